//! Takes of one quota and caller queued together go to Redis as one take: the script does
//! one key's work instead of one per decision, and each decision gets exactly what it would
//! have got had the takes run one after another in the same script call (same clock).
//!
//! Why that holds: within one call the GCRA state of a key only moves by whole emission
//! intervals, one per permit granted. A take for the sum of the wanted permits grants
//! `min(sum, available)`, which takes in sequence would have granted between them, first
//! come first served; what each one saw afterwards (permits left, time to the next permit)
//! differs from the merged answer only by the permits granted after it.

use std::collections::HashMap;

use super::gcra::{Grant, Take};

/// Takes merged per (key, interval, burst), in order of first appearance, with the index
/// of each original take's merged take.
pub(crate) struct Merged {
    pub(crate) takes: Vec<Take>,
    into: Vec<usize>,
    wanted: Vec<u32>,
}

/// Merges the takes of one key (and one rate) into one, keeping their order.
pub(crate) fn merge<'a>(takes: impl IntoIterator<Item = &'a Take>) -> Merged {
    let mut merged: Vec<Take> = Vec::new();
    let mut index: HashMap<(&'a str, u64, u32), usize> = HashMap::new();
    let mut into = Vec::new();
    let mut wanted = Vec::new();
    for take in takes {
        let slot = *index
            .entry((take.key.as_str(), take.interval_micros, take.burst))
            .or_insert_with(|| {
                merged.push(Take {
                    wanted: 0,
                    ..take.clone()
                });
                merged.len() - 1
            });
        merged[slot].wanted = merged[slot].wanted.saturating_add(take.wanted);
        into.push(slot);
        wanted.push(take.wanted);
    }
    Merged {
        takes: merged,
        into,
        wanted,
    }
}

impl Merged {
    /// Each original take's grant, from the merged takes' grants (one per merged take, in
    /// order): permits go first come first served.
    pub(crate) fn split(&self, grants: &[Grant]) -> Vec<Grant> {
        // Permits of each merged take not yet handed out.
        let mut left: Vec<u32> = grants.iter().map(|grant| grant.granted).collect();
        self.into
            .iter()
            .zip(&self.wanted)
            .map(|(&slot, &wanted)| {
                let whole = grants[slot];
                let granted = wanted.min(left[slot]);
                left[slot] -= granted;
                if whole.granted == 0 || granted == 0 {
                    // Refused: the merged take's state after its grants is the state this
                    // take saw; the time until a permit is the same.
                    return Grant {
                        granted: 0,
                        remaining: 0,
                        micros: whole.micros,
                    };
                }
                Grant {
                    granted,
                    // The permits granted after this take were still there when it ran.
                    remaining: whole.remaining + u64::from(left[slot]),
                    micros: whole.micros,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(key: &str, wanted: u32) -> Take {
        Take {
            key: key.to_owned(),
            interval_micros: 1_000,
            burst: 10,
            wanted,
        }
    }

    /// One script call over takes in sequence, on a fixed clock (as the Lua script does it).
    fn sequential(tats: &mut HashMap<String, u64>, now: u64, takes: &[Take]) -> Vec<Grant> {
        takes
            .iter()
            .map(|take| {
                let interval = take.interval_micros;
                let tat = tats.get(&take.key).copied().unwrap_or(now).max(now);
                let limit = now + u64::from(take.burst) * interval;
                let available = (limit.saturating_sub(tat)) / interval;
                if available == 0 {
                    return Grant {
                        granted: 0,
                        remaining: 0,
                        micros: tat - (u64::from(take.burst) - 1) * interval - now,
                    };
                }
                let granted = u64::from(take.wanted).min(available);
                let new_tat = tat + granted * interval;
                tats.insert(take.key.clone(), new_tat);
                let slack = limit - new_tat;
                Grant {
                    granted: u32::try_from(granted).unwrap(),
                    remaining: slack / interval,
                    micros: interval - slack % interval,
                }
            })
            .collect()
    }

    #[test]
    fn takes_of_one_key_become_one() {
        let takes = [take("a", 1), take("b", 2), take("a", 3)];
        let merged = merge(&takes);
        assert_eq!(merged.takes.len(), 2);
        assert_eq!(
            (merged.takes[0].key.as_str(), merged.takes[0].wanted),
            ("a", 4)
        );
        assert_eq!(
            (merged.takes[1].key.as_str(), merged.takes[1].wanted),
            ("b", 2)
        );
    }

    #[test]
    fn takes_of_one_key_at_other_rates_stay_apart() {
        let mut other = take("a", 1);
        other.burst = 20;
        let merged = merge(&[take("a", 1), other]);
        assert_eq!(merged.takes.len(), 2);
    }

    /// Over many states of the shared key (fresh, part used, nearly empty, empty) and mixes
    /// of takes, the split merged answer equals the answer of the takes run one by one.
    #[test]
    fn split_answers_equal_takes_run_in_sequence() {
        let now = 5_000_000;
        let mixes: [Vec<Take>; 5] = [
            vec![take("a", 1), take("a", 1), take("a", 1)],
            vec![take("a", 1); 14],
            vec![
                take("a", 3),
                take("b", 1),
                take("a", 4),
                take("a", 5),
                take("b", 2),
            ],
            vec![take("a", 12), take("a", 1)],
            vec![take("a", 1)],
        ];
        for used_micros in [0, 250, 3_000, 7_500, 9_999, 10_000, 14_000] {
            for mix in &mixes {
                let start: HashMap<String, u64> = ["a", "b"]
                    .iter()
                    .map(|key| ((*key).to_owned(), now + used_micros))
                    .collect();
                let expected = sequential(&mut start.clone(), now, mix);
                let merged = merge(mix);
                let whole = sequential(&mut start.clone(), now, &merged.takes);
                assert_eq!(
                    merged.split(&whole),
                    expected,
                    "state used {used_micros} µs, takes {mix:?}"
                );
            }
        }
    }
}

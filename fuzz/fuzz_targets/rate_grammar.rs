//! The rate grammar of `rate = "..."` and `rate!`, called as the macros call it at compile
//! time. Invariants: nothing panics; an accepted rate is one the runtime can build, with
//! the count and unit written; `rate!`'s arguments parse from any tokens without panic.

#![no_main]

use std::str::FromStr;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portcullis::Rate;
use portcullis_grammar::rate::{self, ParsedRate, UNITS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match rate::parse(text) {
        Ok(ParsedRate::Unlimited) => assert_eq!(text, "unlimited"),
        Ok(ParsedRate::Limit { count, period_secs }) => {
            let (written_count, unit) = text.split_once('/').expect("a slash");
            assert!(count >= 1);
            assert_eq!(written_count.trim_start_matches('0'), count.to_string());
            assert!(UNITS.contains(&(unit, period_secs)));
            let built = Rate::new(count, Duration::from_secs(period_secs)).expect("buildable");
            assert_eq!((built.count(), built.burst()), (count, count));
            let _ = portcullis::__private::checked_rate(count, period_secs, count);
        }
        Err(message) => assert!(!message.is_empty()),
    }
    if let Ok(tokens) = proc_macro2::TokenStream::from_str(text)
        && let Ok((literal, burst)) = rate::macro_arguments(tokens)
    {
        let _ = rate::parse(&literal.value());
        let _ = burst.map(|burst| burst.base10_parse::<u32>());
    }
});

//! The rate grammar: `N/unit`, or `unlimited`.

#[cfg(feature = "tokens")]
use proc_macro2::TokenStream;
#[cfg(feature = "tokens")]
use syn::parse::{ParseStream, Parser};
#[cfg(feature = "tokens")]
use syn::{Ident, LitInt, LitStr, Token};

/// A parsed rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParsedRate {
    /// `count` requests per `period_secs` seconds.
    Limit {
        /// Requests per period, at least one.
        count: u32,
        /// The period, in seconds.
        period_secs: u64,
    },
    /// `unlimited`.
    Unlimited,
}

/// The units of the grammar and their length in seconds.
pub const UNITS: [(&str, u64); 10] = [
    ("s", 1),
    ("sec", 1),
    ("second", 1),
    ("m", 60),
    ("min", 60),
    ("minute", 60),
    ("h", 3600),
    ("hour", 3600),
    ("d", 86_400),
    ("day", 86_400),
];

const FORMAT: &str = "write a rate as `N/unit`, N from 1 to 4294967295 and unit one of \
                      s, sec, second, m, min, minute, h, hour, d, day (like \"100/min\"), \
                      or \"unlimited\"";

/// The arguments of `rate!`: a string literal, then optionally `, burst = N` (and a
/// trailing comma). The rate itself is checked by [`parse`], the burst by the caller.
#[cfg(feature = "tokens")]
pub fn macro_arguments(tokens: TokenStream) -> syn::Result<(LitStr, Option<LitInt>)> {
    let parser = |stream: ParseStream<'_>| -> syn::Result<(LitStr, Option<LitInt>)> {
        let text: LitStr = stream.parse()?;
        if stream.is_empty() {
            return Ok((text, None));
        }
        stream.parse::<Token![,]>()?;
        let key: Ident = stream.parse()?;
        if key != "burst" {
            return Err(syn::Error::new(key.span(), "expected `burst = N`"));
        }
        stream.parse::<Token![=]>()?;
        let burst = stream.parse()?;
        let _ = stream.parse::<Option<Token![,]>>()?;
        Ok((text, Some(burst)))
    };
    parser.parse2(tokens)
}

/// Parses `text`, or says what is wrong and how to write it.
pub fn parse(text: &str) -> Result<ParsedRate, String> {
    if text == "unlimited" {
        return Ok(ParsedRate::Unlimited);
    }
    let Some((count, unit)) = text.split_once('/') else {
        return Err(format!("invalid rate \"{text}\"\n{FORMAT}"));
    };
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid rate \"{text}\": `{count}` is not a number\n{FORMAT}"
        ));
    }
    let count: u32 = count
        .parse()
        .map_err(|_| format!("invalid rate \"{text}\": `{count}` is too large\n{FORMAT}"))?;
    if count == 0 {
        return Err(format!(
            "invalid rate \"{text}\": a rate must allow at least one request; \
             to refuse every request, do not mount the endpoint"
        ));
    }
    match UNITS.iter().find(|(name, _)| *name == unit) {
        // The limiter's clock counts nanoseconds: one request each is the most it can space.
        Some((_, period_secs)) if u128::from(count) > u128::from(*period_secs) * 1_000_000_000 => {
            Err(format!(
                "invalid rate \"{text}\": more than one request per nanosecond; \
                 for no limit, write \"unlimited\""
            ))
        }
        Some((_, period_secs)) => Ok(ParsedRate::Limit {
            count,
            period_secs: *period_secs,
        }),
        None => Err(format!(
            "invalid rate \"{text}\": unknown unit `{unit}`{}\n{FORMAT}",
            crate::suggest::did_you_mean(unit, UNITS.iter().map(|(name, _)| *name))
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `rate_grammar` fuzz target: "3000000003/s" was accepted here, then
    /// refused by the runtime (`Rate::new`) with a bare "invalid rate" const panic.
    #[test]
    fn at_most_one_request_per_nanosecond() {
        assert_eq!(
            parse("1000000000/s"),
            Ok(ParsedRate::Limit {
                count: 1_000_000_000,
                period_secs: 1
            })
        );
        let error = parse("3000000003/s").unwrap_err();
        assert!(
            error.contains("more than one request per nanosecond"),
            "{error}"
        );
        assert!(parse("4294967295/min").is_ok());
    }

    #[test]
    fn accepts_every_unit() {
        for (unit, secs) in UNITS {
            assert_eq!(
                parse(&format!("7/{unit}")),
                Ok(ParsedRate::Limit {
                    count: 7,
                    period_secs: secs
                })
            );
        }
        assert_eq!(parse("unlimited"), Ok(ParsedRate::Unlimited));
        assert_eq!(
            parse("4294967295/min"),
            Ok(ParsedRate::Limit {
                count: u32::MAX,
                period_secs: 60
            })
        );
    }

    #[test]
    fn refuses_malformed_rates() {
        let cases = [
            (
                "100/minutes",
                "unknown unit `minutes` (did you mean `minute`?)",
            ),
            ("0/s", "at least one request"),
            ("abc", "write a rate as"),
            ("/s", "`` is not a number"),
            ("-1/s", "`-1` is not a number"),
            ("1.5/s", "`1.5` is not a number"),
            ("100 /min", "`100 ` is not a number"),
            ("100/ min", "unknown unit ` min`"),
            ("4294967296/s", "too large"),
            ("100/min/s", "unknown unit `min/s`"),
            ("Unlimited", "write a rate as"),
            ("", "write a rate as"),
        ];
        for (text, expected) in cases {
            let error = parse(text).unwrap_err();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }
}

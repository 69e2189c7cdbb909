//! The arguments of `#[secure(...)]` and `#[public(...)]`, parsed as the macros parse them
//! at compile time, then the rate and path literals they hold. Invariants: nothing panics,
//! whatever the tokens; every refusal carries an error to report.

#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use portcullis_grammar::attr::{self, Kind};
use portcullis_grammar::errors::Errors;
use portcullis_grammar::{path, rate};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(tokens) = proc_macro2::TokenStream::from_str(text) else {
        return;
    };
    for kind in [Kind::Secure, Kind::Public] {
        let mut errors = Errors::default();
        let args = attr::parse(kind, tokens.clone(), &mut errors);
        let reported = errors.to_compile_errors();
        assert_eq!(errors.is_empty(), reported.is_empty());
        if let Some(path) = &args.path {
            let _ = path::parse(&path.value());
        }
        if let Some(rate) = &args.rate {
            let _ = rate::parse(&rate.value());
        }
        if kind == Kind::Public {
            assert!(args.scope.is_none() && args.scopes.is_none() && args.policy.is_none());
        }
        for number in args
            .burst
            .iter()
            .chain(&args.body_limit)
            .chain(&args.status)
        {
            let _ = number.base10_parse::<u64>();
        }
    }
});

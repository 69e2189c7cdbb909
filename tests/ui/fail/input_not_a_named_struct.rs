//! `#[input]` goes on a struct with named fields: one error each, and no error of garde.

use portcullis::prelude::*;

#[input]
enum Kind {
    A,
    B,
}

#[input]
struct Pair(#[garde(range(min = 1))] u32, #[garde(range(min = 1))] u32);

fn main() {}

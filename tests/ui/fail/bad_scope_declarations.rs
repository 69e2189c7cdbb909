portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:read" => "Read orders again",
    "orders write" => "Create orders",
}

fn main() {}

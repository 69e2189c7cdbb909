use portcullis::prelude::*;

#[derive(serde::Deserialize)]
struct Tenant {
    tenant: String,
}

#[public(get, path = "/tenant")]
async fn tenant(Claims(claims): Claims<Tenant>) -> String {
    claims.tenant
}

fn main() {}

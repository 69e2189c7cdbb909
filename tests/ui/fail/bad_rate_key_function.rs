use portcullis::prelude::*;
use portcullis::rate::CustomRateKey;

portcullis::scopes! { "reports:read" => "Read reports" }

/// Takes the principal alone: a key function takes the request, as a policy does.
fn tenant(principal: &Principal) -> Option<CustomRateKey> {
    principal.claim("tenant")?.as_str().map(CustomRateKey::shared)
}

#[secure(get, path = "/reports", scope = "reports:read", rate = "10/min", rate_key = tenant)]
async fn reports(_who: Principal) -> &'static str {
    "[]"
}

fn by_header(request: &PolicyRequest<'_>) -> Option<CustomRateKey> {
    request.parts().headers.get("x-team")?.to_str().ok().map(CustomRateKey::new)
}

#[public(get, path = "/status", rate = "10/min", rate_key = by_header)]
async fn status() -> &'static str {
    "up"
}

#[secure(get, path = "/exports", scope = "reports:read", rate_key = "tenant")]
async fn exports(_who: Principal) -> &'static str {
    "[]"
}

fn main() {}

//! The smallest Portcullis API: one secured and one public endpoint, trusting a
//! development issuer that the app serves itself.
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;

portcullis::scopes! { "hello:read" => "Be greeted" }

/// Greets the caller by the token's subject.
#[secure(get, path = "/hello", scope = "hello:read")]
async fn hello(who: Principal) -> String {
    format!("Hello, {}!\n", who.subject().unwrap_or("stranger"))
}

/// Anyone may ask.
#[public(get, path = "/health")]
async fn health() -> &'static str {
    "ok\n"
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address = std::env::var("HELLO_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let dev = DevIssuer::new(format!("http://{address}/dev"), "hello-api")?;
    let security = Security::builder()
        .issuer(dev.issuer())
        .default_rate(rate!("60/min"))
        .build()
        .await?;
    let api = SecureRouter::new(security)
        .mount(routes![hello, health])
        .with_dev_issuer(&dev);
    let token = dev.token().subject("alice").scopes(["hello:read"]).sign();
    println!("curl -H 'Authorization: Bearer {token}' http://{address}/hello");
    let listener = tokio::net::TcpListener::bind(&address).await?;
    // Behind the guard: every route not mounted above answers 404.
    portcullis::transport::serve(listener, api.into_service()).await?;
    Ok(())
}

//! A DPoP client (RFC 9449) of the orders example: it makes a key pair, gets a token bound
//! to it from the example's development issuer (a token request with a DPoP proof), then
//! calls the API with a fresh proof for each request, and shows what a thief holding only
//! the token, or a used proof, gets.
//!
//! ```text
//! cargo run --example orders                 # prints the clients and their secrets
//! cargo run --example dpop_client -- orders-reader <its secret>
//! ```
//!
//! `ORDERS_URL` is where the example listens (default `http://127.0.0.1:3000`, its default
//! `ORDERS_ADDR`); the example's `ORDERS_PUBLIC_ORIGIN`, if set, must be the same.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};

type Error = Box<dyn std::error::Error>;

/// The client's key pair, and its public key as a JWK.
struct ClientKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl ClientKey {
    fn generate() -> Result<ClientKey, Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
        // An uncompressed P-256 point: 0x04, x (32 bytes), y (32 bytes).
        let point = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        Ok(ClientKey { pair, jwk })
    }

    /// A proof for `method` `url`; with `token`, its hash (`ath`), as the API requires.
    fn proof(&self, method: &str, url: &str, token: Option<&str>) -> Result<String, Error> {
        let mut jti = [0u8; 16];
        SystemRandom::new().fill(&mut jti)?;
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let mut claims = json!({
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "htm": method,
            "htu": url,
            "iat": SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs(),
        });
        if let Some(token) = token {
            let hash = digest::digest(&digest::SHA256, token.as_bytes());
            claims["ath"] = json!(URL_SAFE_NO_PAD.encode(hash));
        }
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self.pair.sign(&SystemRandom::new(), input.as_bytes())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// Sends one HTTP/1.1 request and returns the status and the body.
async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, String)],
    body: Option<&str>,
) -> Result<(u16, String), Error> {
    let uri: hyper::Uri = url.parse()?;
    let host = uri.host().ok_or("the URL has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port)).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(uri.path())
        .header("host", format!("{host}:{port}"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let (Some(client), Some(secret)) = (args.next(), args.next()) else {
        return Err(
            "usage: cargo run --example dpop_client -- <client id> <client secret> \
             (the orders example prints them at start-up)"
                .into(),
        );
    };
    let base = std::env::var("ORDERS_URL").unwrap_or_else(|_| "http://127.0.0.1:3000".to_owned());
    let base = base.trim_end_matches('/');
    let key = ClientKey::generate()?;

    // A token bound to the key: the token request carries a proof for the token endpoint.
    let token_url = format!("{base}/dev/oauth/token");
    let basic = format!("Basic {}", STANDARD.encode(format!("{client}:{secret}")));
    let (status, body) = send(
        "POST",
        &token_url,
        &[
            ("authorization", basic),
            (
                "content-type",
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("dpop", key.proof("POST", &token_url, None)?),
        ],
        Some("grant_type=client_credentials&scope=orders%3Aread"),
    )
    .await?;
    if status != 200 {
        return Err(format!("the token request was refused: {status} {body}").into());
    }
    let answer: Value = serde_json::from_str(&body)?;
    let token = answer["access_token"]
        .as_str()
        .ok_or("no access_token in the answer")?
        .to_owned();
    println!(
        "token_type {} (bound to this client's key)",
        answer["token_type"]
    );

    // Each request with a fresh proof for its method and URL.
    let orders = format!("{base}/orders");
    let proof = key.proof("GET", &orders, Some(&token))?;
    let with = |proof: &str| {
        vec![
            ("authorization", format!("DPoP {token}")),
            ("dpop", proof.to_owned()),
        ]
    };
    let (status, body) = send("GET", &orders, &with(&proof), None).await?;
    println!("GET /orders with a fresh proof: {status} {body}");
    let fresh = key.proof("GET", &orders, Some(&token))?;
    let (status, _) = send("GET", &orders, &with(&fresh), None).await?;
    println!("GET /orders with another fresh proof: {status}");

    // What a thief gets.
    let (status, _) = send("GET", &orders, &with(&proof), None).await?;
    println!("the first proof again (replayed): {status}");
    let bearer = vec![("authorization", format!("Bearer {token}"))];
    let (status, _) = send("GET", &orders, &bearer, None).await?;
    println!("the token as a bearer token, without a proof: {status}");
    Ok(())
}

//! The orders example served over HTTPS with a self-signed certificate, as docs/tls.md
//! makes one: a client trusting that certificate gets an opaque token from the example's
//! development server and the API accepts it, which means the API's own introspection call
//! to that server trusted the certificate too.

mod common;

use std::io::{BufRead, BufReader};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine;
use common::example::Example;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A client of the example trusting only `root`.
struct Client {
    connector: TlsConnector,
    port: u16,
}

impl Client {
    fn new(root: CertificateDer<'static>, port: u16) -> Client {
        let mut roots = RootCertStore::empty();
        roots.add(root).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Client {
            connector: TlsConnector::from(Arc::new(config)),
            port,
        }
    }

    /// Sends `request` (HTTP/1.1) on a new connection; the status, the head's fields and
    /// the body.
    async fn send(&self, request: Request<Full<Bytes>>) -> (StatusCode, HeaderMap, String) {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = self
            .connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(connection);
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let fields = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, fields, String::from_utf8_lossy(&body).into_owned())
    }
}

#[tokio::test]
async fn opaque_tokens_work_over_https_with_a_self_signed_certificate() {
    // As docs/tls.md's openssl line: for localhost and 127.0.0.1, not an authority.
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let dir = std::env::temp_dir().join(format!("portcullis-orders-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();

    let (example, _stdout, stderr) = Example::start_with_stderr(
        "orders",
        "ORDERS_ADDR",
        &[
            ("ORDERS_TLS_CERT", cert.to_str().unwrap()),
            ("ORDERS_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    // The start-up guide names the partner's secret; the rest of standard error is drained.
    let mut lines = BufReader::new(stderr).lines();
    let secret = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("  orders-partner  secret ")
                .map(str::to_owned)
        })
        .expect("the guide names orders-partner's secret");
    std::thread::spawn(move || lines.for_each(drop));

    let client = Client::new(certified.cert.der().clone(), example.port);
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("orders-partner:{secret}"));
    let (status, fields, body) = client
        .send(
            Request::post("/dev/oauth/token")
                .header(header::HOST, "127.0.0.1")
                .header(header::AUTHORIZATION, format!("Basic {basic}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from_static(
                    b"grant_type=client_credentials",
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_security_headers(&fields);
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    assert!(token.matches('.').count() < 2, "an opaque token: {token}");

    // The API asks its development server about the token, over HTTPS, and accepts it.
    let (status, fields, body) = client
        .send(
            Request::get("/orders")
                .header(header::HOST, "127.0.0.1")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_security_headers(&fields);
    // A route no one listed: the guard's own refusal carries them too.
    let (status, fields, _) = client
        .send(
            Request::get("/admin/export")
                .header(header::HOST, "127.0.0.1")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_security_headers(&fields);
    drop(example);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Served over TLS, the example's every answer tells browsers to stay on HTTPS and not to
/// sniff.
fn assert_security_headers(fields: &HeaderMap) {
    assert_eq!(
        fields
            .get(header::STRICT_TRANSPORT_SECURITY)
            .and_then(|value| value.to_str().ok()),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_eq!(
        fields
            .get(header::X_CONTENT_TYPE_OPTIONS)
            .and_then(|value| value.to_str().ok()),
        Some("nosniff")
    );
}

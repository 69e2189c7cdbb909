//! The two ways of admitting a request decide alike: for any sequence of requests, an
//! endpoint that tries [`Now`](super::admission::Now) first (as every request arrives)
//! and one that always admits [`Later`](super::admission::Later) allow, refuse and count
//! the same requests the same way.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use secrecy::SecretSlice;
use serde_json::json;

use super::admission::{Admission, ClientIp, Later, Stop, admit, admit_now};
use crate::auth::{Issuer, unix_now};
use crate::authz::{Policy, PolicyDecision, PolicyRequest, Requirements};
use crate::context::EndpointContext;
use crate::endpoint::{Access, EndpointSpec, HttpMethod, MountedEndpoint};
use crate::rate::{EndpointRate, Rate, RateKeyKind};
use crate::{ScopeDecl, ScopeRegistry, ScopeSet, Security};

const ISSUER: &str = "https://issuer.test/";
const AUDIENCE: &str = "orders-api";
const SECRET: &[u8] = b"the shared secret of the property test, 32+ bytes";

static SCOPES: [ScopeDecl; 2] = [
    ScopeDecl {
        name: "orders:read",
        description: "Read orders",
    },
    ScopeDecl {
        name: "orders:write",
        description: "Write orders",
    },
];
static BY_NAME: [(&str, u16); 2] = [("orders:read", 0), ("orders:write", 1)];
static REGISTRY: ScopeRegistry = ScopeRegistry::new(&SCOPES, &BY_NAME);

/// Denies a request carrying `x-deny`, so that the policy's refusals are in the mix.
fn no_deny_header(request: &PolicyRequest<'_>) -> PolicyDecision {
    PolicyDecision::allow_if(
        !request.parts().headers.contains_key("x-deny"),
        "x-deny is set",
    )
}

fn spec(policy: bool, rate_key: RateKeyKind) -> &'static EndpointSpec {
    Box::leak(Box::new(EndpointSpec {
        handler: "get_order",
        module: "tests",
        method: HttpMethod::Get,
        path: "/orders/{id}",
        path_params: &["id"],
        access: Access::Secured(Requirements {
            registry: Some(&REGISTRY),
            all_scopes: ScopeSet::from_indices(&[0]),
            all_scope_names: &["orders:read"],
            any_scopes: ScopeSet::from_indices(&[]),
            any_scope_names: &[],
            roles: &[],
            policy: policy.then_some(Policy {
                name: "no_deny_header",
                check: no_deny_header,
            }),
            dpop: false,
        }),
        rate: EndpointRate::Limit(Rate::per_minute(3)),
        rate_key,
        body_limit: None,
        summary: None,
        description: None,
        tags: &[],
        operation_id: None,
        success_status: None,
        errors: &[],
        document: |_| {},
    }))
}

async fn context(spec: &'static EndpointSpec) -> Arc<EndpointContext> {
    let security = Security::builder()
        .issuer(
            Issuer::new(ISSUER)
                .audience(AUDIENCE)
                .hmac_secret(None, &SecretSlice::from(SECRET.to_vec())),
        )
        .default_rate(Rate::per_minute(60))
        .auth_failure_limit(Some(Rate::per_minute(2)))
        .build()
        .await
        .expect("configuration");
    security
        .revoke_token(ISSUER, "revoked", unix_now() + 600)
        .await
        .expect("revocation");
    let mounted = MountedEndpoint {
        spec,
        path: spec.path,
        prefix: "",
    };
    Arc::new(EndpointContext::new(
        security,
        mounted,
        Some(&REGISTRY),
        spec.requirements().copied(),
    ))
}

/// What a request carries, as the property test varies it.
#[derive(Debug, Clone)]
enum Token {
    None,
    Garbage,
    /// A valid token of client `client`, with `orders:read` or not, whose id is `jti`.
    Valid {
        client: u8,
        read: bool,
        revoked: bool,
    },
    Expired,
    BadSignature,
    InQuery,
}

fn token_strategy() -> impl Strategy<Value = Token> {
    prop_oneof![
        Just(Token::None),
        Just(Token::Garbage),
        (0u8..3, any::<bool>(), prop::bool::weighted(0.2)).prop_map(|(client, read, revoked)| {
            Token::Valid {
                client,
                read,
                revoked,
            }
        }),
        Just(Token::Expired),
        Just(Token::BadSignature),
        Just(Token::InQuery),
    ]
}

fn sign(claims: serde_json::Value, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

fn token_text(token: &Token) -> Option<String> {
    let now = unix_now();
    let claims = |client: u8, scope: &str, exp: u64, jti: &str| {
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "sub": format!("user-{client}"),
            "client_id": format!("client-{client}"), "scope": scope,
            "iat": now - 10, "exp": exp, "jti": jti,
        })
    };
    match token {
        Token::None | Token::InQuery => None,
        Token::Garbage => Some("not-a-token".to_owned()),
        Token::Valid {
            client,
            read,
            revoked,
        } => {
            let scope = if *read { "orders:read" } else { "orders:write" };
            let jti = if *revoked {
                "revoked".to_owned()
            } else {
                format!("t-{client}-{read}")
            };
            Some(sign(claims(*client, scope, now + 300, &jti), SECRET))
        }
        Token::Expired => Some(sign(claims(0, "orders:read", now - 120, "old"), SECRET)),
        Token::BadSignature => Some(sign(
            claims(0, "orders:read", now + 300, "forged"),
            b"another secret, as long as the right one is",
        )),
    }
}

fn request(token: &Token, deny: bool, ip: u8) -> Request {
    let uri = match token {
        Token::InQuery => "/orders/7?access_token=abc",
        _ => "/orders/7",
    };
    let mut builder = Request::get(uri).extension(ConnectInfo(SocketAddr::from((
        IpAddr::from([10, 0, 0, ip]),
        40000,
    ))));
    if let Some(text) = token_text(token) {
        builder = builder.header("authorization", format!("Bearer {text}"));
    }
    if deny {
        builder = builder.header("x-deny", "1");
    }
    builder.body(Body::empty()).expect("request")
}

/// What a decision comes to, compared between the two ways.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Admitted {
        subject: Option<String>,
        rate_limit: Option<String>,
    },
    Refused {
        status: u16,
        subject: Option<String>,
        www_authenticate: Option<String>,
    },
}

fn outcome<W>(decided: Result<super::admission::Admitted, Stop<W>>) -> Option<Outcome> {
    match decided {
        Ok(admitted) => Some(Outcome::Admitted {
            subject: admitted
                .principal
                .as_ref()
                .and_then(|p| p.subject().map(str::to_owned)),
            rate_limit: admitted
                .rate
                .map(|rate| rate.limit.to_str().unwrap_or_default().to_owned()),
        }),
        Err(Stop::Refused(refused)) => {
            let subject = refused
                .principal
                .as_ref()
                .and_then(|p| p.subject().map(str::to_owned));
            let response = (*refused.rejection).into_response();
            Some(Outcome::Refused {
                status: response.status().as_u16(),
                subject,
                www_authenticate: response
                    .headers()
                    .get("www-authenticate")
                    .map(|value| value.to_str().unwrap_or_default().to_owned()),
            })
        }
        Err(Stop::Wait(_)) => None,
    }
}

/// As a request arrives: `Now` when the endpoint allows it, then `Later` if it must.
async fn as_served(context: &EndpointContext, mut request: Request) -> (Outcome, bool) {
    let mut ip = ClientIp::default();
    if context.decides_without_waiting() {
        // As when an audit event will record the arrival: tokens are checked at its time.
        let decided = admit_now(&mut Admission {
            context,
            request: &mut request,
            ip: &mut ip,
            arrived: Some(std::time::SystemTime::now()),
        });
        if let Some(outcome) = outcome(decided) {
            return (outcome, true);
        }
    }
    (always_later(context, request).await, false)
}

async fn always_later(context: &EndpointContext, mut request: Request) -> Outcome {
    let mut ip = ClientIp::default();
    let decided = admit::<Later>(&mut Admission {
        context,
        request: &mut request,
        ip: &mut ip,
        arrived: None,
    })
    .await;
    outcome(decided).expect("Later never stops to wait")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn now_and_later_decide_alike(
        policy in any::<bool>(),
        per_ip in any::<bool>(),
        requests in prop::collection::vec((token_strategy(), prop::bool::weighted(0.2), 1u8..3), 1..16),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let rate_key = if per_ip { RateKeyKind::Ip } else { RateKeyKind::Client };
        let spec = spec(policy, rate_key);
        let (served, later) = runtime.block_on(async { (context(spec).await, context(spec).await) });
        let mut decided_now = 0;
        let mut verified = Vec::new();
        for (token, deny, ip) in &requests {
            let (a, now) = runtime.block_on(as_served(&served, request(token, *deny, *ip)));
            let b = runtime.block_on(always_later(&later, request(token, *deny, *ip)));
            prop_assert_eq!(&a, &b, "request {:?} (deny: {}, ip: {})", token, deny, ip);
            decided_now += usize::from(now);
            // A valid token verified once is in the cache: decided now from then on. (A
            // request refused by the throttle of failed authentication never reads its token.)
            if let Token::Valid { client, read, revoked } = token {
                let key = (*client, *read, *revoked);
                prop_assert!(now || !verified.contains(&key), "{:?} verified twice", token);
                let throttled = matches!(a, Outcome::Refused { status: 429, subject: None, .. });
                if !throttled {
                    verified.push(key);
                }
            }
        }
        // A request without a token, or with a token in the query, is decided now: only
        // tokens (each one's first time, or every time when it fails) are verified later.
        let must_verify = requests.iter().filter(|(token, ..)| {
            !matches!(token, Token::None | Token::InQuery)
        }).count();
        prop_assert!(decided_now + must_verify >= requests.len());
    }
}

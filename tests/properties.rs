//! Property tests of the security invariants (proptest):
//!
//! - a token is accepted exactly when its signature, issuer, audience, type and time
//!   window hold, as an oracle computed from the generated claims says (at a fixed clock,
//!   so that the boundaries are exact);
//! - changing any byte of a valid token (header, payload or signature) never yields
//!   acceptance;
//! - an endpoint answers 200 exactly when the token's scopes satisfy its requirement, as
//!   a set computation on the generated scopes says, whatever claim carries them.
//!
//! The scope bit sets, the GCRA limiter and the token cache have their own properties
//! next to their (crate-private) code in the runtime.

mod common;

use std::collections::BTreeSet;
use std::sync::LazyLock;
use std::time::Duration;

use axum::http::StatusCode;
use common::keys::{TestKey, jwks};
use jsonwebtoken::Algorithm;
use portcullis::dev::DevIssuer;
use portcullis::prelude::*;
use portcullis_runtime::__fuzz::verify_at;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
    "orders:admin" => "Delete orders",
}

/// The fixed clock of the verification properties (Unix seconds).
const NOW: u64 = 1_700_000_000;
const LEEWAY: u64 = 30;
const MAX_LIFETIME: u64 = 3600;

/// Every scope a generated token may carry: the declared ones, and others.
const SCOPES: [&str; 5] = [
    "orders:read",
    "orders:write",
    "orders:admin",
    "orders:read2",
    "other",
];

#[secure(get, path = "/all", scopes = ["orders:read", "orders:write"], rate = "unlimited")]
async fn all_of(_who: Principal) -> &'static str {
    "ok"
}

#[secure(get, path = "/any", any_scope = ["orders:admin", "orders:write"], rate = "unlimited")]
async fn any_of(_who: Principal) -> &'static str {
    "ok"
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    /// Trusts `keys`, with the leeway and maximum lifetime above.
    security: Security,
    /// The issuer's keys, with the algorithm each signs with.
    keys: Vec<(TestKey, Algorithm)>,
    /// Other keys with the same `kid`s: their signatures must never verify.
    strangers: Vec<TestKey>,
    /// A development issuer and a router of scoped endpoints that trusts it.
    dev: DevIssuer,
    app: axum::Router,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys = vec![
        (TestKey::ed25519("ed"), Algorithm::EdDSA),
        (TestKey::ec("es", false), Algorithm::ES256),
        (
            TestKey::rsa("rs", aws_lc_rs::rsa::KeySize::Rsa2048),
            Algorithm::RS256,
        ),
    ];
    let strangers = vec![
        TestKey::ed25519("ed"),
        TestKey::ec("es", false),
        TestKey::rsa("rs", aws_lc_rs::rsa::KeySize::Rsa2048),
    ];
    let published: Vec<&TestKey> = keys.iter().map(|(key, _)| key).collect();
    let dev = common::dev_issuer();
    let (security, app) = runtime.block_on(async {
        let security = Security::builder()
            .issuer(
                Issuer::new(common::ISSUER)
                    .audience(common::AUDIENCE)
                    .jwks_json(&jwks(&published))
                    .leeway(Duration::from_secs(LEEWAY))
                    .max_lifetime(Duration::from_secs(MAX_LIFETIME)),
            )
            .default_rate(rate!("1000/s"))
            .build()
            .await
            .unwrap();
        let scoped = Security::builder()
            .issuer(dev.issuer())
            .default_rate(rate!("1000/s"))
            .auth_failure_limit(None)
            .build()
            .await
            .unwrap();
        let app = SecureRouter::new(scoped)
            .mount(routes![all_of, any_of])
            .into_router();
        (security, app)
    });
    Fixture {
        runtime,
        security,
        keys,
        strangers,
        dev,
        app,
    }
});

fn verify(token: &str) -> Result<Principal, portcullis::AuthFailure> {
    let fixture = &*FIXTURE;
    fixture.runtime.block_on(verify_at(
        &fixture.security,
        token,
        Some(&__portcullis_scopes::REGISTRY),
        NOW,
    ))
}

// --- Generated claims and their oracle --------------------------------------------------

/// A NumericDate claim as written in a token.
#[derive(Debug, Clone)]
enum Time {
    /// `NOW + offset`, an integer.
    Integer(i64),
    /// `NOW + offset + fraction`, a float.
    Float(i64, f64),
    /// Not a non-negative number: refused wherever it appears.
    Malformed(Value),
}

impl Time {
    fn json(&self) -> Value {
        match self {
            Time::Integer(offset) => json!(NOW.checked_add_signed(*offset).unwrap()),
            Time::Float(offset, fraction) => {
                json!(NOW.checked_add_signed(*offset).unwrap() as f64 + fraction)
            }
            Time::Malformed(value) => value.clone(),
        }
    }

    /// The instant it stands for (fractions truncated), or `None` if malformed.
    fn seconds(&self) -> Option<u64> {
        match self {
            Time::Integer(offset) | Time::Float(offset, _) => NOW.checked_add_signed(*offset),
            Time::Malformed(_) => None,
        }
    }
}

/// Offsets around every boundary the rules draw: the leeway, the maximum lifetime.
fn offset() -> impl Strategy<Value = i64> {
    let leeway = LEEWAY as i64;
    let lifetime = MAX_LIFETIME as i64;
    prop_oneof![
        -5_000i64..5_000,
        prop::sample::select(vec![
            0,
            1,
            -1,
            leeway,
            leeway + 1,
            leeway - 1,
            -leeway,
            -leeway - 1,
            -leeway + 1,
            lifetime,
            lifetime + leeway,
            lifetime + leeway + 1,
            lifetime + leeway - 1,
        ]),
    ]
}

fn time() -> impl Strategy<Value = Time> {
    prop_oneof![
        6 => offset().prop_map(Time::Integer),
        2 => (offset(), 0.0f64..0.999).prop_map(|(offset, fraction)| Time::Float(offset, fraction)),
        1 => prop::sample::select(vec![json!("1700000000"), json!(-1), json!(null), json!(true), json!(-0.5)])
            .prop_map(Time::Malformed),
    ]
}

#[derive(Debug, Clone)]
enum Audience {
    Exact,
    Other,
    /// An array of strings, with or without ours.
    Array(bool),
    /// An array holding a non-string.
    ArrayWithNumber,
    Number,
    Missing,
}

#[derive(Debug, Clone)]
struct Generated {
    iss: Option<Value>,
    aud: Audience,
    exp: Option<Time>,
    nbf: Option<Time>,
    iat: Option<Time>,
    typ: Option<&'static str>,
    /// Which key signs, and whether it is the issuer's or a stranger's.
    key: usize,
    stranger: bool,
    scopes: BTreeSet<&'static str>,
    jti: u32,
}

fn generated() -> impl Strategy<Value = Generated> {
    let iss = prop_oneof![
        6 => Just(Some(json!(common::ISSUER))),
        1 => Just(None),
        1 => prop::sample::select(vec![
            json!("https://issuer.test"),
            json!("HTTPS://issuer.test/"),
            json!("https://issuer.test/ "),
            json!(5),
        ]).prop_map(Some),
    ];
    let aud = prop_oneof![
        6 => Just(Audience::Exact),
        2 => any::<bool>().prop_map(Audience::Array),
        1 => Just(Audience::Other),
        1 => Just(Audience::ArrayWithNumber),
        1 => Just(Audience::Number),
        1 => Just(Audience::Missing),
    ];
    let typ = prop::sample::select(vec![
        None,
        None,
        Some("at+jwt"),
        Some("JWT"),
        Some("application/at+jwt"),
        Some("AT+JWT"),
        Some("id_token+jwt"),
        Some("dpop+jwt"),
    ]);
    (
        (iss, aud, prop::option::weighted(0.95, time())),
        (prop::option::of(time()), prop::option::of(time()), typ),
        (
            0usize..3,
            prop::bool::weighted(0.15),
            prop::collection::btree_set(prop::sample::select(SCOPES.to_vec()), 0..4),
            any::<u32>(),
        ),
    )
        .prop_map(
            |((iss, aud, exp), (nbf, iat, typ), (key, stranger, scopes, jti))| Generated {
                iss,
                aud,
                exp,
                nbf,
                iat,
                typ,
                key,
                stranger,
                scopes,
                jti,
            },
        )
}

impl Generated {
    fn claims(&self) -> Value {
        let mut claims = Map::new();
        if let Some(iss) = &self.iss {
            claims.insert("iss".into(), iss.clone());
        }
        let aud = match self.aud {
            Audience::Exact => Some(json!(common::AUDIENCE)),
            Audience::Other => Some(json!("orders-api-2")),
            Audience::Array(true) => Some(json!(["billing", common::AUDIENCE])),
            Audience::Array(false) => Some(json!(["billing", "ORDERS-API"])),
            Audience::ArrayWithNumber => Some(json!([common::AUDIENCE, 7])),
            Audience::Number => Some(json!(7)),
            Audience::Missing => None,
        };
        if let Some(aud) = aud {
            claims.insert("aud".into(), aud);
        }
        for (name, time) in [("exp", &self.exp), ("nbf", &self.nbf), ("iat", &self.iat)] {
            if let Some(time) = time {
                claims.insert(name.into(), time.json());
            }
        }
        claims.insert("sub".into(), json!("alice"));
        claims.insert("jti".into(), json!(format!("j-{}", self.jti)));
        let scope: Vec<&str> = self.scopes.iter().copied().collect();
        claims.insert("scope".into(), json!(scope.join(" ")));
        Value::Object(claims)
    }

    fn token(&self) -> String {
        let fixture = &*FIXTURE;
        let (own, alg) = &fixture.keys[self.key];
        let key = if self.stranger {
            &fixture.strangers[self.key]
        } else {
            own
        };
        key.sign(*alg, self.typ, &self.claims())
    }

    /// Whether the rules accept the token: RFC 7519, RFC 8725 and the configuration, read
    /// from the generated values alone.
    fn acceptable(&self) -> bool {
        if self.stranger {
            return false;
        }
        if self.iss != Some(json!(common::ISSUER)) {
            return false;
        }
        if !matches!(self.aud, Audience::Exact | Audience::Array(true)) {
            return false;
        }
        let typ_ok = self.typ.is_none_or(|typ| {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            typ == "jwt" || typ == "at+jwt"
        });
        if !typ_ok {
            return false;
        }
        // A time claim present must be well-formed; `exp` must be present.
        let read = |time: &Option<Time>| match time {
            None => Ok(None),
            Some(time) => time.seconds().map(Some).ok_or(()),
        };
        let (Ok(Some(exp)), Ok(nbf), Ok(iat)) = (read(&self.exp), read(&self.nbf), read(&self.iat))
        else {
            return false;
        };
        let now = NOW;
        now < exp + LEEWAY
            && nbf.is_none_or(|nbf| nbf <= now + LEEWAY)
            && iat.is_none_or(|iat| iat <= now + LEEWAY && iat <= exp)
            && exp.saturating_sub(iat.unwrap_or(now)) <= MAX_LIFETIME + LEEWAY
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// A token is accepted exactly when every rule holds; an accepted one gives the
    /// principal its claims describe.
    #[test]
    fn accepted_exactly_when_every_rule_holds(generated in generated()) {
        let token = generated.token();
        let verdict = verify(&token);
        prop_assert_eq!(
            verdict.is_ok(),
            generated.acceptable(),
            "claims {} typ {:?} stranger {}: {:?}",
            generated.claims(),
            generated.typ,
            generated.stranger,
            verdict.as_ref().err()
        );
        if let Ok(principal) = verdict {
            prop_assert_eq!(principal.issuer(), common::ISSUER);
            prop_assert_eq!(principal.subject(), Some("alice"));
            prop_assert_eq!(Some(principal.expires_at_unix()), generated.exp.as_ref().and_then(Time::seconds));
            let scopes: BTreeSet<&str> = principal.scopes().collect();
            prop_assert_eq!(&scopes, &generated.scopes);
            let declared: BTreeSet<u16> = generated
                .scopes
                .iter()
                .filter_map(|scope| __portcullis_scopes::REGISTRY.index_of(scope))
                .collect();
            prop_assert_eq!(principal.scope_set().indices().collect::<BTreeSet<_>>(), declared);
        }
    }
}

/// A valid token, generated.
fn valid() -> impl Strategy<Value = Generated> {
    (
        0usize..3,
        -2_900i64..=0,
        1i64..600,
        prop::collection::btree_set(prop::sample::select(SCOPES.to_vec()), 0..4),
        any::<u32>(),
    )
        .prop_map(|(key, issued, expires, scopes, jti)| Generated {
            iss: Some(json!(common::ISSUER)),
            aud: Audience::Exact,
            exp: Some(Time::Integer(expires)),
            nbf: None,
            iat: Some(Time::Integer(issued)),
            typ: Some("at+jwt"),
            key,
            stranger: false,
            scopes,
            jti,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// Changing any one byte of a valid token, to any other byte, never yields acceptance.
    #[test]
    fn no_changed_byte_is_accepted(
        generated in valid(),
        position in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            3 => prop::sample::select(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".to_vec()
            ),
            1 => any::<u8>(),
        ],
    ) {
        prop_assume!(generated.acceptable());
        let token = generated.token();
        prop_assert!(verify(&token).is_ok(), "the original verifies");
        let mut bytes = token.clone().into_bytes();
        let at = position.index(bytes.len());
        prop_assume!(bytes[at] != replacement);
        bytes[at] = replacement;
        let Ok(changed) = String::from_utf8(bytes) else {
            // Not even a string: never a token.
            return Ok(());
        };
        let verdict = verify(&changed);
        prop_assert!(
            verdict.is_err(),
            "byte {} of {} changed to {:?} and still accepted",
            at,
            token,
            replacement as char
        );
    }
}

// --- Scopes at the endpoint -------------------------------------------------------------

/// Where a token carries its scopes.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `scope`, space-delimited (RFC 9068).
    Scope,
    /// `scp`, an array (Entra ID, Okta).
    Scp,
    /// `permissions`, an array (Auth0).
    Permissions,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// An endpoint answers 200 exactly when the granted scopes satisfy its requirement
    /// (all of, or any of), and 403 otherwise; the claim that carries them does not matter.
    #[test]
    fn endpoints_admit_exactly_the_tokens_whose_scopes_suffice(
        granted in prop::collection::btree_set(prop::sample::select(SCOPES.to_vec()), 0..5),
        layout in prop::sample::select(vec![Layout::Scope, Layout::Scp, Layout::Permissions]),
    ) {
        let fixture = &*FIXTURE;
        let list: Vec<&str> = granted.iter().copied().collect();
        let request = fixture.dev.token().subject("alice").client("app");
        let token = match layout {
            Layout::Scope => request.scopes(list.clone()),
            Layout::Scp => request.claim("scp", json!(list)),
            Layout::Permissions => request.claim("permissions", json!(list)),
        }
        .sign();
        let all: BTreeSet<&str> = ["orders:read", "orders:write"].into();
        let any: BTreeSet<&str> = ["orders:admin", "orders:write"].into();
        for (path, admitted) in [
            ("/all", all.is_subset(&granted)),
            ("/any", !any.is_disjoint(&granted)),
        ] {
            let reply = fixture
                .runtime
                .block_on(common::send(&fixture.app, common::get(path, &token)));
            let expected = if admitted { StatusCode::OK } else { StatusCode::FORBIDDEN };
            prop_assert_eq!(reply.status, expected, "{} with {:?} in {:?}: {}", path, granted, layout, reply.text);
        }
    }
}

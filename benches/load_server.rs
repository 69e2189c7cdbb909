//! The server side of the load benchmark (`benches/load.sh`): one variant of
//! `GET /orders/{id}` and `POST /orders` on a loopback port, and the tokens the load client
//! sends.
//!
//! ```text
//! load_server prepare <dir> <rs256 tokens> <es256 tokens> <lifetime seconds>
//! load_server serve <bare|bare-connect-info|bare-fields|bare-map-response|portcullis|portcullis-uncached|hand|deployed|bare-deployed|bare-deployed-transport|body-axum|body-transport> <address> <dir>
//! load_server drive <address> <tokens file> <requests per second> <connections> <seconds>
//! ```
//!
//! `prepare` makes a fresh RSA-2048 key and P-256 key and writes into `<dir>` what the
//! servers trust (`jwks.json`, `rsa.pem`) and what the client sends, one token a line:
//! `repeated.token` (one RS256 token), `rs256.tokens` and `es256.tokens` (distinct tokens),
//! then `meta` (their counts and expiry). The private keys are not kept. Tokens are written
//! only to those files (mode 0600), never printed.
//!
//! `serve` trusts the keys of `<dir>` and serves until it is killed:
//! - `bare`: the handlers on bare axum, no security;
//! - `bare-connect-info`: the same, served with `ConnectInfo` as Portcullis is (what that
//!   serving choice costs by itself);
//! - `bare-fields`: bare axum with `ConnectInfo`, whose `GET /orders/{id}` answers with the
//!   four fields Portcullis adds to an allowed response, as constants (what sending them
//!   costs by itself);
//! - `bare-map-response`: bare axum behind one `map_response` layer that changes nothing
//!   (what the lightest axum middleware costs, for scale);
//! - `portcullis`: Portcullis with the default token cache, served with `ConnectInfo` as its
//!   documentation asks (a limiter decides every request, with a quota never reached);
//! - `portcullis-uncached`: the same with the token cache off (every token verified);
//! - `hand`: the hand-assembled stack (`support/hand_assembled.rs`), RS256 only;
//! - `deployed`: Portcullis as the orders example deploys it: a Prometheus recorder, the
//!   example's `tracing` subscriber, the guard (which adds `nosniff`), and the
//!   example's handler work (a JSON row cloned, parsed and re-serialized)
//!   (`support/deployed.rs`);
//! - `bare-deployed`: the same handler work on bare axum;
//! - `bare-deployed-transport`: the same, served by `portcullis::transport::serve` instead
//!   of `axum::serve` (what Portcullis' serving loop weighs apart from its pipeline);
//! - `body-axum`: bare axum answering `GET /orders/{id}` with a body of `BODY_BYTES` bytes
//!   (16384 unless set), served by `axum::serve`;
//! - `body-transport`: the same served by `portcullis::transport::serve` (how its writes
//!   weigh with the size of the answer).
//!
//! `drive` is the open-loop client of `RATE=... benches/load.sh` (`support/open_loop.rs`):
//! it offers `GET /orders/7` at a fixed rate, with the tokens of the file in turn, measures
//! each latency from the request's scheduled send time and prints one `RESULT` line.
//!
//! Run with no arguments (as `cargo bench` does), it does nothing.

portcullis::scopes! {
    "orders:read" => "Read orders",
    "orders:write" => "Create orders",
}

#[path = "support/apps.rs"]
mod apps;
#[path = "support/deployed.rs"]
mod deployed;
#[path = "support/hand_assembled.rs"]
mod hand_assembled;
#[path = "support/open_loop.rs"]
mod open_loop;
#[path = "support/tokens.rs"]
mod tokens;

use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use tokens::{AUDIENCE, Alg, BenchKeys, ISSUER};

type Error = Box<dyn std::error::Error>;

const USAGE: &str = "usage: load_server prepare <dir> <rs256 tokens> <es256 tokens> <lifetime seconds>\n       load_server serve <bare|bare-connect-info|bare-fields|bare-map-response|portcullis|portcullis-uncached|hand|deployed|bare-deployed|bare-deployed-transport|body-axum|body-transport> <address> <dir>\n       load_server drive <address> <tokens file> <requests per second> <connections> <seconds>";

fn main() -> Result<(), Error> {
    // `cargo bench` passes `--bench`; only positional arguments matter here.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => {
            eprintln!("load_server: nothing to do (it is run by benches/load.sh)\n{USAGE}");
            Ok(())
        }
        ["prepare", dir, rs, es, lifetime] => {
            prepare(Path::new(dir), rs.parse()?, es.parse()?, lifetime.parse()?)
        }
        ["serve", variant, address, dir] => serve(variant, address.parse()?, Path::new(dir)),
        ["drive", address, tokens, rate, connections, seconds] => drive(open_loop::Schedule {
            address: address.parse()?,
            path: "/orders/7".to_owned(),
            tokens: std::fs::read_to_string(tokens)?
                .lines()
                .map(str::to_owned)
                .collect(),
            rate: rate.parse()?,
            connections: connections.parse()?,
            duration: std::time::Duration::from_secs(seconds.parse()?),
        }),
        _ => Err(USAGE.into()),
    }
}

/// Writes `contents` to a new file that only its owner can read.
fn write_private(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    Ok(())
}

/// Keys, and the tokens the load client sends.
fn prepare(dir: &Path, rs256: usize, es256: usize, lifetime: u64) -> Result<(), Error> {
    std::fs::create_dir_all(dir)?;
    // A stale `meta` must not vouch for files being rewritten.
    let _ = std::fs::remove_file(dir.join("meta"));
    let keys = BenchKeys::generate();
    std::fs::write(dir.join("jwks.json"), keys.jwks())?;
    std::fs::write(dir.join("rsa.pem"), keys.rsa_public_pem())?;
    let now = tokens::now();
    let repeated = keys.sign(Alg::Rs256, "repeated", now, lifetime);
    write_private(
        &dir.join("repeated.token"),
        format!("{repeated}\n").as_bytes(),
    )?;
    for (alg, count, file) in [
        (Alg::Rs256, rs256, "rs256.tokens"),
        (Alg::Es256, es256, "es256.tokens"),
    ] {
        let started = std::time::Instant::now();
        let mut lines = keys
            .sign_many(alg, alg.name(), count, now, lifetime)
            .join("\n");
        lines.push('\n');
        write_private(&dir.join(file), lines.as_bytes())?;
        eprintln!(
            "load_server: signed {count} {} tokens in {:.1?}",
            alg.name(),
            started.elapsed()
        );
    }
    std::fs::write(
        dir.join("meta"),
        format!("expires={}\nrs256={rs256}\nes256={es256}\n", now + lifetime),
    )?;
    Ok(())
}

/// Offers `schedule`'s load on one thread and prints the `RESULT` line.
fn drive(schedule: open_loop::Schedule) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // The connections spin while they wait for their send time: look for answers often.
        .event_interval(4)
        .build()?;
    let outcome = runtime.block_on(open_loop::run(schedule))?;
    println!("{}", outcome.result_line());
    Ok(())
}

/// The size of the `body-*` variants' answers: `BODY_BYTES`, 16384 unless set.
fn body_bytes() -> Result<usize, Error> {
    match std::env::var("BODY_BYTES") {
        Ok(bytes) => Ok(bytes.parse()?),
        Err(_) => Ok(16 * 1024),
    }
}

/// Serves `variant` on `address` until killed.
fn serve(variant: &str, address: SocketAddr, dir: &Path) -> Result<(), Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address).await?;
        match variant {
            "bare" => axum::serve(listener, apps::bare()).await?,
            "bare-connect-info" => {
                axum::serve(
                    listener,
                    apps::bare().into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await?
            }
            "bare-fields" => {
                axum::serve(
                    listener,
                    apps::bare_with_fields().into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await?
            }
            "bare-map-response" => axum::serve(listener, apps::bare_with_one_middleware()).await?,
            "portcullis" | "portcullis-uncached" => {
                let jwks = std::fs::read_to_string(dir.join("jwks.json"))?;
                let app = match variant {
                    "portcullis" => apps::portcullis(&jwks).await,
                    _ => apps::portcullis_with_cache(&jwks, 0).await,
                };
                axum::serve(
                    listener,
                    app.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await?
            }
            "deployed" => {
                deployed::install_observability()?;
                let jwks = std::fs::read_to_string(dir.join("jwks.json"))?;
                deployed::serve_portcullis(listener, &jwks).await?
            }
            "bare-deployed" => axum::serve(listener, deployed::bare()).await?,
            "body-axum" => axum::serve(listener, apps::bare_with_body(body_bytes()?)).await?,
            "body-transport" => {
                portcullis::transport::serve(listener, apps::bare_with_body(body_bytes()?)).await?
            }
            "bare-deployed-transport" => {
                portcullis::transport::serve(listener, deployed::bare()).await?
            }
            "hand" => {
                let pem = std::fs::read_to_string(dir.join("rsa.pem"))?;
                let verifier = hand_assembled::Verifier::rs256(&pem, ISSUER, AUDIENCE)?;
                let unlimited = governor::Quota::per_second(
                    NonZeroU32::new(1_000_000_000).ok_or("a quota is not zero")?,
                );
                let app = hand_assembled::router(Arc::new(verifier), unlimited, unlimited);
                axum::serve(listener, app).await?
            }
            other => return Err(format!("unknown variant {other:?}\n{USAGE}").into()),
        }
        Ok(())
    })
}

//! Starting an example as a user does, and talking to it over a real socket.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// An example's process, ended when dropped.
pub struct Example {
    child: Child,
    /// Where it listens.
    pub port: u16,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Example {
    /// Starts the example `name` (built by `cargo test` next to the test binaries) with
    /// `env`, its address in `address_variable` on a free port; returns it once it accepts
    /// connections, with its standard output.
    pub fn start(
        name: &str,
        address_variable: &str,
        env: &[(&str, &str)],
    ) -> (Example, ChildStdout) {
        let (example, stdout, _) = Example::launch(name, address_variable, env, false);
        (example, stdout)
    }

    /// Like [`Example::start`], with its standard error too (read it: a full pipe would
    /// stop the example).
    pub fn start_with_stderr(
        name: &str,
        address_variable: &str,
        env: &[(&str, &str)],
    ) -> (Example, ChildStdout, ChildStderr) {
        let (example, stdout, stderr) = Example::launch(name, address_variable, env, true);
        (example, stdout, stderr.expect("piped"))
    }

    fn launch(
        name: &str,
        address_variable: &str,
        env: &[(&str, &str)],
        with_stderr: bool,
    ) -> (Example, ChildStdout, Option<ChildStderr>) {
        let binary = std::env::current_exe()
            .expect("test binary")
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target directory")
            .join("examples")
            .join(name);
        assert!(
            binary.exists(),
            "{} is built by `cargo test`; build it with `cargo build --example {name}`",
            binary.display()
        );
        let port = free_port();
        let mut command = Command::new(&binary);
        command
            .env(address_variable, format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(if with_stderr {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the example starts");
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take();
        let example = Example { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the example {name} did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        (example, stdout, stderr)
    }

    /// `GET path`, with a bearer token if given.
    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        get(self.port, path, token)
    }
}

/// The lines of an example's standard output, until `last` (included) or its end.
pub fn lines_until(stdout: ChildStdout, last: impl Fn(&str) -> bool) -> Vec<String> {
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        let done = last(&line);
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// One HTTP/1.1 answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `GET path` on `127.0.0.1:port` over HTTP/1.1.
pub fn get(port: u16, path: &str, token: Option<&str>) -> Answer {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    exchange(port, "GET", path, &headers, "")
}

/// One HTTP/1.1 request on `127.0.0.1:port`, with `headers` and `body`, and its answer.
pub fn exchange(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n");
    if !body.is_empty() {
        request.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.get(9..12))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

//! `serve --events`: Redis is not trusted blindly. A password in the URL is never printed;
//! `rediss://` works, with `--events-ca` for a private CA (and a certificate it did not sign is
//! refused); what arrives on the channel is bounded before it is parsed and held to a mutation's
//! rules, so an 8 MiB message or a malformed event reaches no subscriber and costs the server
//! little memory, while valid events still flow.
//!
//! The tests that need Redis start Debian's `redis-server` on a free loopback port, as the fleet
//! tests do, and are ignored by a bare `cargo test` (`make test` runs them:
//! `cargo test -p trainers-cli --test events -- --include-ignored`).

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::appsync::{addr_of, Subscriber};
use common::{serve_captured, trainers, Server, KEY};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const NEEDS_REDIS: &str = "needs Debian's redis-server: make test runs it (cargo test -p trainers-cli --test events -- --include-ignored)";
const CHANNEL: &str = "trainers:events";
const PATIENCE: Duration = Duration::from_secs(20);

/// A `redis-server` on a loopback port (TLS only, when given a certificate), killed when dropped.
struct Redis {
    child: std::process::Child,
    port: u16,
    password: Option<&'static str>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Redis {
    fn start(tls_dir: Option<&Path>, password: Option<&'static str>) -> Redis {
        let port = free_port();
        let mut command = std::process::Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null());
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        match tls_dir {
            None => command.args(["--port", &port.to_string()]),
            Some(dir) => command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(dir.join("cert.pem"))
                .arg("--tls-key-file")
                .arg(dir.join("key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(dir.join("ca.pem"))
                .args(["--tls-auth-clients", "no"]),
        };
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("redis-server does not start ({e}): {NEEDS_REDIS}"));
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis {
            child,
            port,
            password,
        }
    }

    /// Publishes `payload` on the events channel, as anyone who can reach Redis may (plain
    /// RESP); how many subscribers (servers) Redis handed it to.
    async fn publish(&self, payload: &[u8]) -> i64 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .expect("a connection to Redis");
        let mut command = Vec::new();
        if let Some(password) = self.password {
            command.extend(
                format!("*2\r\n$4\r\nAUTH\r\n${}\r\n{password}\r\n", password.len()).bytes(),
            );
        }
        command.extend(
            format!(
                "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{CHANNEL}\r\n${}\r\n",
                CHANNEL.len(),
                payload.len()
            )
            .bytes(),
        );
        command.extend_from_slice(payload);
        command.extend_from_slice(b"\r\n");
        stream.write_all(&command).await.expect("PUBLISH is sent");
        let mut reader = BufReader::new(stream);
        let mut reply = String::new();
        if self.password.is_some() {
            reader.read_line(&mut reply).await.expect("Redis answers");
            assert_eq!(reply, "+OK\r\n");
            reply.clear();
        }
        reader.read_line(&mut reply).await.expect("Redis answers");
        reply
            .trim()
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("PUBLISH answered {reply:?}"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base(server: &Server) -> String {
    server.url.trim_end_matches("/graphql").to_string()
}

async fn readyz(server: &Server) -> Value {
    let response = server
        .client
        .get(format!("{}/readyz", base(server)))
        .send()
        .await;
    match response {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Waits until the server both publishes to and hears Redis (`/readyz` names no trouble).
async fn wait_until_sharing(server: &Server, output: &common::Captured) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ready = readyz(server).await;
        if ready["status"] == "ready" && ready.get("events").is_none() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never shared events: {ready}\n{}",
            output.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn metrics(server: &Server) -> String {
    let response = server
        .client
        .get(format!("{}/metrics", base(server)))
        .send()
        .await
        .expect("/metrics answers");
    response.text().await.unwrap_or_default()
}

/// The value of the sample whose line starts with `prefix`, 0 when absent.
fn sample(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The resident memory of process `pid`, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

async fn stop(mut server: Server) {
    let _ = server.child.kill().await;
    let _ = server.child.wait().await;
}

// ---------------------------------------------------------------------------------------------
// (c) The URL's password.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_in_the_events_url_is_never_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Redis is not there: the server starts, tries again and again, and says why.
    let closed = free_port();
    let url = format!("redis://:secretpw@127.0.0.1:{closed}");
    let (server, output) = serve_captured(
        dir.path(),
        &["--api-key", KEY, "--events", &url],
        &[("RUST_LOG", "trace")],
    )
    .await;
    let deadline = Instant::now() + PATIENCE;
    while !output.text().contains("cannot subscribe to Redis") {
        assert!(Instant::now() < deadline, "no warning:\n{}", output.text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A few retries.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ready = readyz(&server).await;
    assert!(ready.get("events").is_some(), "{ready}");
    stop(server).await;
    let text = output.text();
    assert!(
        !text.contains("secretpw"),
        "the password was printed:\n{text}"
    );
    assert!(
        text.contains(&format!("redis://:***@127.0.0.1:{closed}")),
        "the URL is shown redacted:\n{text}"
    );

    // URLs the client refuses at start: one line on stderr, without the password.
    for (url, mentions) in [
        (
            "redis://:secretpw@127.0.0.1:99999",
            "redis://:***@127.0.0.1:99999",
        ),
        (
            "rediss://user:secretpw@127.0.0.1:1/#nope",
            "rediss://user:***@127.0.0.1:1/#nope",
        ),
    ] {
        let out = trainers()
            .arg("--data-dir")
            .arg(dir.path())
            .args(["serve", "--addr", "127.0.0.1:0", "--api-key", KEY])
            .args(["--events", url])
            .env("RUST_LOG", "trace")
            .output()
            .await
            .expect("trainers runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{text}");
        assert!(
            !text.contains("secretpw"),
            "the password was printed:\n{text}"
        );
        assert!(
            text.contains(mentions),
            "the error names {mentions}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (a) TLS.

const CREATE: &str = r#"mutation { createTrainer(firstName: "Ada", lastName: "Tls", age: 36) { id firstName lastName } }"#;
const ON_CREATE: &str = "subscription { onCreateTrainer { id firstName lastName } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server: make test runs it (cargo test -p trainers-cli --test events -- --include-ignored)"]
async fn events_flow_through_redis_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = dir.path().join("tls");
    let made = trainers()
        .args(["tls", "create", "--dir"])
        .arg(&tls)
        .output()
        .await
        .expect("trainers runs");
    assert!(made.status.success(), "{made:?}");
    let redis = Redis::start(Some(&tls), None);
    let url = format!("rediss://127.0.0.1:{}", redis.port);
    let ca = tls.join("ca.pem").display().to_string();
    let args = ["--api-key", KEY, "--events", &url, "--events-ca", &ca];
    let (a, a_output) = serve_captured(&dir.path().join("a"), &args, &[]).await;
    let (b, b_output) = serve_captured(&dir.path().join("b"), &args, &[]).await;
    wait_until_sharing(&a, &a_output).await;
    wait_until_sharing(&b, &b_output).await;

    // A mutation on one server reaches a subscriber of the other: only through Redis.
    let mut subscriber = Subscriber::start(&addr_of(&b.url), KEY, ON_CREATE).await;
    let (status, body) = a.graphql(KEY, CREATE, json!({})).await.expect("answered");
    assert_eq!(status, 200, "{body}");
    let heard = subscriber.data().await;
    assert_eq!(
        heard["onCreateTrainer"]["id"], body["data"]["createTrainer"]["id"],
        "{heard}"
    );

    // Without --events-ca, the system's roots do not trust the private CA: no connection.
    let (c, c_output) = serve_captured(
        &dir.path().join("c"),
        &["--api-key", KEY, "--events", &url],
        &[],
    )
    .await;
    let deadline = Instant::now() + PATIENCE;
    while !c_output.text().contains("cannot subscribe to Redis") {
        assert!(
            Instant::now() < deadline,
            "no warning:\n{}",
            c_output.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready = readyz(&c).await;
    assert!(ready.get("events").is_some(), "{ready}");
    assert!(
        c_output.text().to_lowercase().contains("certificate"),
        "{}",
        c_output.text()
    );
    // A CA file that holds no certificate stops the start.
    let out = trainers()
        .arg("--data-dir")
        .arg(dir.path().join("d"))
        .args(["serve", "--addr", "127.0.0.1:0", "--events", &url])
        .arg("--events-ca")
        .arg(tls.join("key.pem"))
        .output()
        .await
        .expect("trainers runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--events-ca"));
    for server in [a, b, c] {
        stop(server).await;
    }
}

// ---------------------------------------------------------------------------------------------
// (b) What the channel holds.

const VALID_ID: &str = "0191f2a4-5b6c-7d8e-9f00-112233445566";

/// An event as a server publishes it, with `first_name`.
fn event(first_name: &str) -> Value {
    json!({
        "kind": "Created",
        "trainer": {
            "id": VALID_ID,
            "firstName": first_name,
            "lastName": "Channel",
            "age": 40,
            "specialty": null,
            "createdAt": "2026-12-06T08:00:00.000Z",
            "updatedAt": "2026-12-06T08:00:00.000Z",
            "version": 1
        },
        "selected": ["id", "firstName", "lastName"]
    })
}

fn with(mut value: Value, pointer: &str, new: Value) -> Vec<u8> {
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
    }
    value.to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server: make test runs it (cargo test -p trainers-cli --test events -- --include-ignored)"]
async fn an_oversized_or_malformed_event_reaches_no_subscriber_and_costs_little_memory() {
    const SUBSCRIBERS: usize = 10;
    let dir = tempfile::tempdir().expect("tempdir");
    // With a password: the subscribing connection authenticates.
    let redis = Redis::start(None, Some("channelpw"));
    let url = format!("redis://:channelpw@127.0.0.1:{}", redis.port);
    let (server, output) =
        serve_captured(dir.path(), &["--api-key", KEY, "--events", &url], &[]).await;
    wait_until_sharing(&server, &output).await;
    let addr = addr_of(&server.url);
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        subscribers.push(Subscriber::start(&addr, KEY, ON_CREATE).await);
    }
    // Warm: one event through Redis to every subscriber.
    assert_eq!(
        redis.publish(&event("Warm").to_string().into_bytes()).await,
        1
    );
    for subscriber in &mut subscribers {
        assert_eq!(
            subscriber.data().await["onCreateTrainer"]["firstName"],
            "Warm"
        );
    }
    let pid = server.child.id().expect("a pid");
    let before = rss_mib(pid);

    // 8 MiB in one event's name: were it parsed and delivered, each subscriber would get a copy.
    // Skipped as it streams in, it is never held: RSS grows by less than one of them.
    // Three times: what one costs is not kept, nor added up.
    let huge = with(event(""), "/trainer/firstName", json!("A".repeat(8 << 20)));
    for _ in 0..3 {
        assert_eq!(redis.publish(&huge).await, 1);
    }
    drop(huge);
    let long = "x".repeat(101);
    let malformed: Vec<Vec<u8>> = vec![
        b"not json".to_vec(),
        b"{\"kind\":\"Created\"".to_vec(),
        with(event("Bad"), "/kind", json!("Exploded")),
        {
            let mut extra = event("Bad");
            extra["extra"] = json!(1);
            extra.to_string().into_bytes()
        },
        with(event("Bad"), "/trainer/specialty", json!("NINJA")),
    ];
    let invalid: Vec<Vec<u8>> = vec![
        with(event("Bad"), "/trainer/id", json!("not-an-id")),
        event(&long).to_string().into_bytes(),
        event("Bad\u{1b}[31m").to_string().into_bytes(),
        event("  ").to_string().into_bytes(),
        with(event("Bad"), "/trainer/age", json!(-3)),
        with(event("Bad"), "/trainer/version", json!(0)),
        with(event("Bad"), "/selected", json!(["id", "secret"])),
    ];
    for payload in malformed.iter().chain(&invalid) {
        assert_eq!(redis.publish(payload).await, 1);
    }
    // Valid events still flow, and are the next thing every subscriber hears.
    assert_eq!(
        redis
            .publish(&event("Valid").to_string().into_bytes())
            .await,
        1
    );
    for subscriber in &mut subscribers {
        let heard = subscriber.data().await;
        assert_eq!(heard["onCreateTrainer"]["firstName"], "Valid", "{heard}");
        assert_eq!(heard["onCreateTrainer"]["id"], VALID_ID);
    }
    let (status, body) = server
        .graphql(KEY, CREATE, json!({}))
        .await
        .expect("answered");
    assert_eq!(status, 200, "{body}");
    for subscriber in &mut subscribers {
        assert_eq!(
            subscriber.data().await["onCreateTrainer"]["firstName"],
            "Ada"
        );
        assert!(subscriber
            .next_within(Duration::from_millis(200))
            .await
            .is_none());
    }
    let after = rss_mib(pid);
    eprintln!(
        "RSS with {SUBSCRIBERS} subscribers: {before:.1} MiB before three 8 MiB messages, {after:.1} MiB after"
    );
    assert!(
        after - before < 8.0,
        "RSS grew from {before:.1} to {after:.1} MiB"
    );

    let metrics = metrics(&server).await;
    let refused = |reason: &str| {
        sample(
            &metrics,
            &format!("trainers_events_refused_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(refused("too_large"), 3.0, "{metrics}");
    assert_eq!(refused("malformed"), malformed.len() as f64, "{metrics}");
    assert_eq!(refused("invalid"), invalid.len() as f64, "{metrics}");
    for subscriber in subscribers {
        subscriber.stop().await;
    }
    stop(server).await;
    // Logged without content.
    let logs = output.text();
    // Logged at most once a second, so that whoever can publish cannot flood the logs.
    let lines = logs.matches("events: refused").count();
    assert!(
        (1..=3).contains(&lines),
        "{lines} lines of refusals:\n{logs}"
    );
    for content in [
        "AAAAAAAA",
        "Bad",
        "not json",
        "NINJA",
        "secret",
        "xxxxxxxx",
        "channelpw",
    ] {
        assert!(!logs.contains(content), "{content} logged:\n{logs}");
    }
}

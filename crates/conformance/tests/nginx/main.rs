//! Through a real load balancer: Debian's nginx, started here as a child process with
//! `trainers.conf` (the file docs/scale-out.md shows) in a temporary directory, in front of three
//! servers of this process on one dynalite table, each with its own connections to one
//! redis-server (`serve --events redis://…`). Through nginx:
//!
//! - `graphql.rs`: every case of the GraphQL conformance suite, unchanged;
//! - `realtime.rs`: subscribers spread over the servers hear every mutation made through nginx,
//!   whichever server made it, once; a server that stops closes only its own subscribers; an idle
//!   AppSync subscriber lives on its `ka`;
//! - `http.rs`: what the servers answer comes through as they answer it.
//!
//! The tests are ignored by a bare `cargo test`; `make test` runs them (with dynalite up: see
//! scripts/dynamodb-servers.sh). Without nginx, redis-server or `TRAINERS_TEST_DYNALITE` they fail
//! and say which is missing.

mod graphql;
mod http;
mod realtime;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};
use trainers_api::events::redis::RedisEvents;
use trainers_api::events::Events;
use trainers_api::realtime::Limits;
use trainers_api::Server;
use trainers_conformance::server::TEST_API_KEY;
use trainers_conformance::{GraphqlResponse, Target, TestIssuer, TestServer};
use trainers_core::TrainerId;
use trainers_store_dynamodb::{create_table, local_client, DynamoStore};

/// What to do when something is missing.
const NEEDS: &str = "the load-balancer tests need Debian's nginx and redis-server \
    (scripts/setup-tools.sh installs them) and dynalite (run the tests under \
    scripts/dynamodb-servers.sh, which sets TRAINERS_TEST_DYNALITE; make test does both)";

/// How long the tests wait for a process to listen, or for a message they expect.
const PATIENCE: Duration = Duration::from_secs(10);

/// The configuration every test runs nginx with: the one docs/scale-out.md shows.
const TRAINERS_CONF: &str = include_str!("trainers.conf");

/// The page-token secret the fleet's servers share, as `TRAINERS_TOKEN_SECRET` would be.
const TOKEN_SECRET: &str = "nginx-fleet-test-secret";

/// A program of Debian's: on `PATH`, or where Debian puts it (`/usr/sbin` may not be on a user's
/// `PATH`).
fn program(name: &str, debian_path: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from(debian_path)).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!("{name} is not installed (not on PATH, not {debian_path}): {NEEDS}")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Waits until `port` accepts connections, or `child` exits (then: what it said, from `log`).
fn wait_listening(child: &mut Child, port: u16, name: &str, log: &dyn Fn() -> String) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let said = log();
            if said.contains("Address already in use") {
                return false;
            }
            panic!("{name} exited ({status}) before listening on {port}:\n{said}");
        }
        assert!(
            Instant::now() < deadline,
            "{name} did not listen on {port} within {PATIENCE:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// redis-server and nginx, as children of the test, killed when dropped.

pub struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    pub fn start() -> Redis {
        let redis = program("redis-server", "/usr/bin/redis-server");
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&redis)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("redis-server does not start ({e}): {NEEDS}"));
            let said = || "see redis-server's output above".to_string();
            if wait_listening(&mut child, port, "redis-server", &said) {
                return Redis { child, port };
            }
        }
        panic!("redis-server found no free port in three tries");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in the foreground, one process (`master_process off`), everything it writes in its own
/// temporary directory; `trainers.conf` included as is, but for its addresses.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

/// The main configuration around `trainers.conf`: what Debian's /etc/nginx/nginx.conf does,
/// with every path relative to the temporary directory (nginx's `-p`).
const MAIN_CONF: &str = "\
daemon off;
master_process off;
worker_processes 1;
pid nginx.pid;
error_log error.log notice;
events { worker_connections 1024; }
http {
    access_log access.log;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    include trainers.conf;
}
";

/// `trainers.conf` with nginx listening on `listen` and the upstream servers at `servers`.
pub fn render_conf(listen: u16, servers: &[SocketAddr]) -> String {
    let mut conf = replace_once(
        TRAINERS_CONF,
        "listen 8080;",
        &format!("listen 127.0.0.1:{listen};"),
    );
    let placeholders = (0..)
        .map(|n| format!("server 127.0.0.1:{} ", 8081 + n))
        .take_while(|p| conf.contains(p.as_str()))
        .count();
    assert_eq!(
        placeholders,
        servers.len(),
        "trainers.conf names {placeholders} servers; the fleet has {}",
        servers.len()
    );
    for (n, server) in servers.iter().enumerate() {
        conf = replace_once(
            &conf,
            &format!("server 127.0.0.1:{} ", 8081 + n),
            &format!("server {server} "),
        );
    }
    conf
}

/// `text` with `from`, which must be there exactly once, replaced by `to`.
pub fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "expected {from:?} exactly once in:\n{text}"
    );
    text.replacen(from, to, 1)
}

impl Nginx {
    /// nginx before `servers`, with `trainers.conf` changed by `edit` (a shorter timeout, say).
    pub fn start(servers: &[SocketAddr], edit: &dyn Fn(String) -> String) -> Nginx {
        let nginx = program("nginx", "/usr/sbin/nginx");
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("nginx.conf"), MAIN_CONF).expect("nginx.conf written");
        let error_log = dir.path().join("error.log");
        let log = || std::fs::read_to_string(&error_log).unwrap_or_default();
        for _ in 0..3 {
            let port = free_port();
            std::fs::write(
                dir.path().join("trainers.conf"),
                edit(render_conf(port, servers)),
            )
            .expect("trainers.conf written");
            let mut child = Command::new(&nginx)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .arg("-e")
                .arg(&error_log)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("nginx does not start ({e}): {NEEDS}"));
            if wait_listening(&mut child, port, "nginx", &log) {
                return Nginx {
                    child,
                    addr: SocketAddr::from(([127, 0, 0, 1], port)),
                    dir,
                };
            }
            let _ = std::fs::remove_file(&error_log);
        }
        panic!("nginx found no free port in three tries");
    }

    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// What nginx logged (its errors: an upstream that failed, say).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The fleet.

/// Three servers on one fresh dynalite table, each with its own DynamoDB client and its own
/// connections to one redis-server, behind nginx.
pub struct Fleet {
    pub nginx: Nginx,
    pub servers: Vec<TestServer>,
    /// The TCP connections each server has accepted (nginx's, once the fleet is up).
    pub accepted: Vec<Arc<AtomicUsize>>,
    pub http: reqwest::Client,
    /// With accounts on: the token its GraphQL requests carry instead of the API key.
    pub token: Option<String>,
    _redis: Redis,
}

/// An HTTP answer, as a client of nginx gets it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The server that answered, as nginx says (`X-Upstream`).
    pub fn upstream(&self) -> String {
        header_text(&self.headers, "x-upstream")
    }
}

fn header_text(headers: &reqwest::header::HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

impl Fleet {
    pub async fn start() -> Fleet {
        Fleet::start_with(&|server| server, &|conf| conf).await
    }

    /// A fleet whose servers all have accounts on, trusting one issuer, as servers started
    /// with the same `--auth-issuer` are; its GraphQL requests carry a user's token.
    pub async fn start_signed_in() -> Fleet {
        let issuer = TestIssuer::new();
        let verifier = issuer.verifier();
        let mut fleet =
            Fleet::start_with(&|server| server.accounts(verifier.clone()), &|conf| conf).await;
        fleet.token = Some(issuer.token(trainers_conformance::server::TEST_USER, &[]));
        fleet
    }

    /// A fleet whose servers are set up by `configure` (shorter limits, say), behind nginx with
    /// `trainers.conf` changed by `edit`.
    pub async fn start_with(
        configure: &dyn Fn(Server) -> Server,
        edit: &dyn Fn(String) -> String,
    ) -> Fleet {
        let endpoint = std::env::var("TRAINERS_TEST_DYNALITE")
            .unwrap_or_else(|_| panic!("TRAINERS_TEST_DYNALITE is not set: {NEEDS}"));
        let table = format!("trainers-nginx-{}", TrainerId::generate());
        if let Err(e) = create_table(&local_client(&endpoint), &table).await {
            panic!("cannot create table {table} at {endpoint} (TRAINERS_TEST_DYNALITE): {e}");
        }
        let redis = Redis::start();
        let mut servers = Vec::new();
        let mut accepted = Vec::new();
        for _ in 0..3 {
            // As separate processes would be: a client and a store each.
            let store =
                DynamoStore::new(local_client(&endpoint), table.clone(), Some(TOKEN_SECRET));
            let events = RedisEvents::start(&redis.url()).expect("a Redis URL");
            let count = Arc::new(AtomicUsize::new(0));
            let counted = count.clone();
            let server = TestServer::start_with(Arc::new(store), None, move |s| {
                configure(
                    s.events(Events {
                        sink: events.clone(),
                        source: events,
                    })
                    .on_accept(move |_| {
                        counted.fetch_add(1, Ordering::SeqCst);
                    }),
                )
            })
            .await;
            servers.push(server);
            accepted.push(count);
        }
        for server in &servers {
            events_shared(server).await;
        }
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        Fleet {
            nginx: Nginx::start(&addrs, edit),
            servers,
            accepted,
            http: reqwest::Client::new(),
            token: None,
            _redis: redis,
        }
    }

    /// The servers' addresses as nginx names them in `X-Upstream`.
    pub fn upstreams(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.addr.to_string()).collect()
    }

    /// POSTs `body` to nginx's `/graphql` with `key`.
    pub async fn post(&self, key: Option<&str>, body: String) -> Answer {
        let mut request = self
            .http
            .post(self.nginx.url())
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        answer(request).await
    }

    /// A GraphQL request through nginx with the test key (or, signed in, the token); it must
    /// answer 200.
    pub async fn graphql_answer(&self, query: &str, variables: Value) -> Answer {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let answer = match &self.token {
            Some(token) => {
                let request = self
                    .http
                    .post(self.nginx.url())
                    .header("content-type", "application/json")
                    .header("authorization", token)
                    .body(body);
                answer(request).await
            }
            None => self.post(Some(TEST_API_KEY), body).await,
        };
        assert_eq!(
            answer.status,
            200,
            "a GraphQL request through nginx answers 200, got {answer:?}; nginx's errors:\n{}",
            self.nginx.error_log()
        );
        answer
    }
}

pub async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("an answer through nginx");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}

#[async_trait]
impl Target for Fleet {
    async fn graphql(&self, query: &str, variables: Value) -> GraphqlResponse {
        GraphqlResponse(self.graphql_answer(query, variables).await.body)
    }
}

/// Waits until the server's readiness probe says its events are shared through Redis.
async fn events_shared(server: &TestServer) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ready: Value = server
            .client
            .get(format!("http://{}/readyz", server.addr))
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        if ready["status"] == "ready" && ready.get("events").is_none() {
            return;
        }
        assert!(Instant::now() < deadline, "events never shared: {ready}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Needs nothing: run by a bare `cargo test`.

#[test]
fn the_docs_show_the_configuration_the_tests_use() {
    let docs = include_str!("../../../../docs/scale-out.md");
    assert!(
        docs.contains(TRAINERS_CONF),
        "docs/scale-out.md must hold crates/conformance/tests/nginx/trainers.conf verbatim"
    );
}

#[test]
fn the_configuration_takes_the_fleets_addresses() {
    let servers: Vec<SocketAddr> = (1..=3)
        .map(|n| SocketAddr::from(([10, 0, 0, n], 9000)))
        .collect();
    let conf = render_conf(4242, &servers);
    assert!(conf.contains("listen 127.0.0.1:4242;"));
    for server in &servers {
        assert!(conf.contains(&format!("server {server} max_fails")));
    }
    assert!(!conf.contains("server 127.0.0.1:808"));
    assert!(!conf.contains("listen 8080;"));
}

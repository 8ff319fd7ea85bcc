//! The real-time benchmark (not a test): many AppSync subscribers on one `trainers serve` (or
//! spread over a fleet of them, `--servers`), a burst of mutations over HTTP, and what it costs:
//!
//! - the delivery latency (p50, p99, max) of every event to every subscriber, measured from the
//!   moment the mutation's HTTP response arrived at the client (a proxy for its commit, which
//!   happens just before the server answers; an event can beat the response, so a latency can
//!   be slightly negative), and from the moment the request was sent (an upper bound);
//! - the events delivered per second, over the burst and until the last event arrived;
//! - the server's memory: resident with no client, with every subscriber connected, and its
//!   peak (VmHWM), from /proc (only for a server the benchmark started).
//!
//! ```text
//! cargo build --release -p trainers-cli -p trainers-realtime-bench
//! target/release/realtime-bench [--server target/release/trainers] [--subscribers 1000]
//!     [--mutations 200] [--concurrency 4]
//! target/release/realtime-bench --servers http://127.0.0.1:8081,http://127.0.0.1:8082 ...
//! ```
//!
//! With `--servers`, the benchmark starts no server: it uses those, already running with the key
//! `--api-key da2-realtimebenchkey000000000` (a fleet sharing events, say: bench/fleet.sh).
//! Subscriber `i` connects to server `i mod N` and mutation `i` goes to server `i mod N`, so each
//! server's subscribers hear mutations made on every server.
//!
//! The server and this client share the machine; everything runs on loopback and stops by itself.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const KEY: &str = "da2-realtimebenchkey000000000";
const SUBSCRIPTION: &str =
    "subscription { onCreateTrainer { id firstName lastName age specialty createdAt updatedAt version } }";
const NAME_PREFIX: &str = "Burst";
/// How long any one step may take before the benchmark gives up.
const STEP_LIMIT: Duration = Duration::from_secs(120);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Args {
    server: PathBuf,
    /// Servers already running (`host:port`); none: start `server`.
    servers: Vec<String>,
    subscribers: usize,
    mutations: usize,
    concurrency: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        server: PathBuf::from("target/release/trainers"),
        servers: Vec::new(),
        subscribers: 1000,
        mutations: 200,
        concurrency: 4,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        let count = || {
            value
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{flag} needs a positive number, not {value}"))
        };
        match flag.as_str() {
            "--server" => args.server = PathBuf::from(&value),
            "--servers" => {
                args.servers = value
                    .split(',')
                    .map(|s| {
                        let s = s.trim();
                        let s = s.strip_prefix("http://").unwrap_or(s);
                        s.trim_end_matches('/')
                            .trim_end_matches("/graphql")
                            .to_string()
                    })
                    .filter(|s| !s.is_empty())
                    .collect();
                if args.servers.is_empty() {
                    return Err("--servers needs URL,URL,…".into());
                }
            }
            "--subscribers" => args.subscribers = count()?,
            "--mutations" => args.mutations = count()?,
            "--concurrency" => args.concurrency = count()?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match parse_args() {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("realtime-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn within<T>(what: &str, step: impl std::future::Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STEP_LIMIT, step)
        .await
        .map_err(|_| format!("{what} took longer than {STEP_LIMIT:?}"))
}

/// A server the benchmark started: killed when dropped.
struct Started {
    process: tokio::process::Child,
    pid: u32,
    _data_dir: tempfile::TempDir,
}

async fn start_server(binary: &std::path::Path) -> Result<(Started, String), String> {
    let data_dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let mut process = Command::new(binary)
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--api-key", KEY, "--data-dir"])
        .arg(data_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let pid = process.id().ok_or("the server exited at once")?;
    let stdout = process.stdout.take().ok_or("no server stdout")?;
    let addr = within("the server's start", listening_address(stdout)).await??;
    let started = Started {
        process,
        pid,
        _data_dir: data_dir,
    };
    Ok((started, addr))
}

async fn run(args: Args) -> Result<(), String> {
    let (mut started_server, addrs) = if args.servers.is_empty() {
        let (started, addr) = start_server(&args.server).await?;
        (Some(started), vec![addr])
    } else {
        (None, args.servers.clone())
    };
    let pid = started_server.as_ref().map(|s| s.pid);
    let rss_idle = pid.map(|pid| memory(pid, "VmRSS")).transpose()?;

    let started = Instant::now();
    let urls: Vec<String> = addrs.iter().map(|addr| realtime_url(addr)).collect();
    let sockets: Vec<Socket> = within(
        "connecting the subscribers",
        futures::stream::iter(0..args.subscribers)
            .map(|i| subscribe(&urls[i % urls.len()]))
            .buffer_unordered(64)
            .collect::<Vec<_>>(),
    )
    .await?
    .into_iter()
    .collect::<Result<_, _>>()?;
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_subscribed = pid.map(|pid| memory(pid, "VmRSS")).transpose()?;

    let receivers: Vec<_> = sockets
        .into_iter()
        .map(|socket| tokio::spawn(receive(socket, args.mutations)))
        .collect();
    let (commits, burst_started, burst_time) =
        burst(&addrs, args.mutations, args.concurrency).await?;
    let mut arrivals = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        let got = within("delivery", receiver)
            .await?
            .map_err(|e| format!("a subscriber failed: {e}"))?;
        arrivals.push(got);
    }
    let rss_peak = pid.map(|pid| memory(pid, "VmHWM")).transpose()?;
    if let Some(server) = started_server.as_mut() {
        let _ = server.process.kill().await;
    }
    let last_arrival = arrivals.iter().flatten().flatten().max().copied();

    let mut from_response = Vec::new();
    let mut from_request = Vec::new();
    let mut missing = 0;
    for got in &arrivals {
        for (index, arrived) in got.iter().enumerate() {
            let (sent, answered) = commits[index];
            match arrived {
                Some(at) => {
                    from_response.push(signed_ms(*at, answered));
                    from_request.push(signed_ms(*at, sent));
                }
                None => missing += 1,
            }
        }
    }
    let delivered = from_response.len();
    println!(
        "servers {} ({}), subscribers {} (spread evenly), mutations {} ({} at a time, spread evenly), events delivered {delivered}, missing {missing}",
        addrs.len(),
        if started_server.is_some() { "started by the benchmark" } else { "given by --servers" },
        args.subscribers, args.mutations, args.concurrency
    );
    println!(
        "connect+subscribe all: {:.2} s; burst: {:.2} s ({:.0} mutations/s, {:.0} events/s)",
        connect_time.as_secs_f64(),
        burst_time.as_secs_f64(),
        args.mutations as f64 / burst_time.as_secs_f64(),
        delivered as f64 / burst_time.as_secs_f64(),
    );
    if let Some(last) = last_arrival {
        let span = last.duration_since(burst_started);
        println!(
            "first mutation sent to last event received: {:.2} s ({:.0} events/s)",
            span.as_secs_f64(),
            delivered as f64 / span.as_secs_f64()
        );
    }
    println!(
        "latency from the mutation's HTTP response (ms): {}",
        summary(&mut from_response)
    );
    println!(
        "latency from the mutation's HTTP request (ms):  {}",
        summary(&mut from_request)
    );
    if let (Some(rss_idle), Some(rss_subscribed), Some(rss_peak)) =
        (rss_idle, rss_subscribed, rss_peak)
    {
        println!(
            "server memory: {:.1} MiB idle, {:.1} MiB with the subscribers connected ({:.1} KiB each), peak {:.1} MiB",
            kib_to_mib(rss_idle),
            kib_to_mib(rss_subscribed),
            rss_subscribed.saturating_sub(rss_idle) as f64 / args.subscribers as f64,
            kib_to_mib(rss_peak),
        );
    }
    if missing > 0 {
        return Err(format!("{missing} events never arrived"));
    }
    Ok(())
}

async fn listening_address(stdout: tokio::process::ChildStdout) -> Result<String, String> {
    let mut lines = BufReader::new(stdout).lines();
    while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
        if let Some(rest) = line.strip_prefix("Trainers API listening on http://") {
            return Ok(rest.trim_end_matches("/graphql").to_string());
        }
    }
    Err("the server never said where it listens".into())
}

/// A field of /proc/PID/status, in KiB.
fn memory(pid: u32, field: &str) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read the server's memory: {e}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn realtime_url(addr: &str) -> String {
    let header = STANDARD.encode(json!({"host": addr, "x-api-key": KEY}).to_string());
    format!("ws://{addr}/graphql/realtime?header={header}&payload=e30=")
}

/// One subscriber: connected, acknowledged, subscribed (its `start_ack` received).
async fn subscribe(url: &str) -> Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    send(&mut socket, json!({"type": "connection_init"})).await?;
    expect(&mut socket, "connection_ack").await?;
    let data = json!({"query": SUBSCRIPTION, "variables": {}}).to_string();
    send(
        &mut socket,
        json!({"id": "1", "type": "start", "payload": {"data": data}}),
    )
    .await?;
    expect(&mut socket, "start_ack").await?;
    Ok(socket)
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), String> {
    socket
        .send(Message::text(message.to_string()))
        .await
        .map_err(|e| format!("cannot send: {e}"))
}

/// Waits for a message of this type, past keep-alives.
async fn expect(socket: &mut Socket, kind: &str) -> Result<(), String> {
    while let Some(message) = socket.next().await {
        let message = message.map_err(|e| format!("waiting for {kind}: {e}"))?;
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            match value["type"].as_str() {
                Some(t) if t == kind => return Ok(()),
                Some("ka") => continue,
                _ => return Err(format!("expected {kind}, got {text}")),
            }
        }
    }
    Err(format!("the connection closed while waiting for {kind}"))
}

/// When each mutation's event arrived, by mutation index.
async fn receive(mut socket: Socket, mutations: usize) -> Vec<Option<Instant>> {
    let mut arrived = vec![None; mutations];
    let mut count = 0;
    while count < mutations {
        let Some(Ok(message)) = socket.next().await else {
            break;
        };
        let now = Instant::now();
        if let Message::Text(text) = message {
            if let Some(slot) = mutation_index(&text).and_then(|i| arrived.get_mut(i)) {
                if slot.is_none() {
                    *slot = Some(now);
                    count += 1;
                }
            }
        }
    }
    arrived
}

/// The index in a `firstName` of `Burst<index>`, read without parsing the whole message.
fn mutation_index(text: &str) -> Option<usize> {
    let marker = format!(r#""firstName":"{NAME_PREFIX}"#);
    let (_, rest) = text.split_once(&marker)?;
    rest.split('"').next()?.parse().ok()
}

/// Makes the mutations, `concurrency` at a time, mutation `i` on server `i mod N`: when each was
/// sent and answered, when the burst started and how long it took.
async fn burst(
    addrs: &[String],
    mutations: usize,
    concurrency: usize,
) -> Result<(Vec<(Instant, Instant)>, Instant, Duration), String> {
    let http = reqwest::Client::new();
    let urls: Arc<Vec<String>> = Arc::new(
        addrs
            .iter()
            .map(|addr| format!("http://{addr}/graphql"))
            .collect(),
    );
    let next = Arc::new(Mutex::new(0usize));
    let times = Arc::new(Mutex::new(vec![None; mutations]));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (http, urls, next, times) =
                (http.clone(), urls.clone(), next.clone(), times.clone());
            tokio::spawn(async move {
                loop {
                    let index = {
                        let mut next = next.lock().await;
                        let index = *next;
                        *next += 1;
                        index
                    };
                    if index >= mutations {
                        return Ok::<_, String>(());
                    }
                    let sent = Instant::now();
                    create(&http, &urls[index % urls.len()], index).await?;
                    times.lock().await[index] = Some((sent, Instant::now()));
                }
            })
        })
        .collect();
    for worker in workers {
        within("the burst", worker)
            .await?
            .map_err(|e| format!("a mutation worker failed: {e}"))??;
    }
    let elapsed = started.elapsed();
    let times = times
        .lock()
        .await
        .iter()
        .copied()
        .collect::<Option<Vec<_>>>();
    Ok((times.ok_or("a mutation was not made")?, started, elapsed))
}

async fn create(http: &reqwest::Client, url: &str, index: usize) -> Result<(), String> {
    let query = format!(
        r#"mutation {{ createTrainer(firstName: "{NAME_PREFIX}{index}", lastName: "Bench", age: 40, specialty: BODYBUILDING) {{ id firstName lastName age specialty createdAt updatedAt version }} }}"#
    );
    let response = http
        .post(url)
        .header("x-api-key", KEY)
        .json(&json!({"query": query}))
        .send()
        .await
        .map_err(|e| format!("mutation {index}: {e}"))?;
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("mutation {index}: {e}"))?;
    if body.get("errors").is_some() {
        return Err(format!("mutation {index} failed: {body}"));
    }
    Ok(())
}

fn signed_ms(at: Instant, since: Instant) -> f64 {
    match at.checked_duration_since(since) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(since.duration_since(at).as_secs_f64() * 1000.0),
    }
}

fn summary(values: &mut [f64]) -> String {
    if values.is_empty() {
        return "no data".into();
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    format!(
        "p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2} (n = {})",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0),
        values.len()
    )
}

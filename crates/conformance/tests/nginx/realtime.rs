//! Subscriptions through nginx: subscribers that nginx spread over the three servers (by round
//! robin, as the mutations are) each hear every mutation once, whichever server made it; a server
//! that stops closes its own subscribers (1001, through nginx) and nginx sends the next mutations
//! to the others; an idle AppSync subscriber lives on its `ka`, where a silent connection is cut
//! at `proxy_read_timeout`.

use super::*;

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a subscriber listens to be sure that nothing more comes.
const QUIET: Duration = Duration::from_millis(500);

const ON_CREATE: &str = "subscription { onCreateTrainer { id firstName } }";
const ON_UPDATE: &str = "subscription { onUpdateTrainer { id age version } }";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Protocol {
    /// AppSync's (`graphql-ws` on `/graphql/realtime`).
    AppSync,
    /// `graphql-transport-ws` on `/graphql`.
    TransportWs,
}

/// A subscriber connected through nginx.
struct Subscriber {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: Protocol,
    /// The server nginx connected it to (`X-Upstream` of the handshake's answer).
    upstream: String,
}

#[derive(Debug)]
enum Ended {
    Closed(Option<u16>),
    Silent,
}

impl Subscriber {
    /// Connected through nginx, initialised, and subscribed to creates (`c`) and updates (`u`).
    async fn connect(fleet: &Fleet, protocol: Protocol) -> Subscriber {
        let mut subscriber = Subscriber::handshake(fleet, protocol).await;
        subscriber.subscribe("c", ON_CREATE).await;
        subscriber.subscribe("u", ON_UPDATE).await;
        subscriber
    }

    /// Connected through nginx and initialised (`connection_ack` received).
    async fn handshake(fleet: &Fleet, protocol: Protocol) -> Subscriber {
        let addr = fleet.nginx.addr;
        let (url, subprotocol, init) = match protocol {
            Protocol::AppSync => {
                let header = STANDARD.encode(
                    json!({"host": addr.to_string(), "x-api-key": TEST_API_KEY}).to_string(),
                );
                (
                    format!("ws://{addr}/graphql/realtime?header={header}&payload=e30="),
                    "graphql-ws",
                    json!({"type": "connection_init"}),
                )
            }
            Protocol::TransportWs => (
                format!("ws://{addr}/graphql"),
                "graphql-transport-ws",
                json!({"type": "connection_init", "payload": {"x-api-key": TEST_API_KEY}}),
            ),
        };
        let mut request = url.into_client_request().expect("a WebSocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(subprotocol),
        );
        let (ws, response) = tokio_tungstenite::connect_async(request)
            .await
            .unwrap_or_else(|e| panic!("the WebSocket handshake through nginx fails: {e}"));
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(header("sec-websocket-protocol"), subprotocol);
        let upstream = header("x-upstream");
        assert!(
            fleet.upstreams().contains(&upstream),
            "X-Upstream {upstream:?} names one of the servers {:?}",
            fleet.upstreams()
        );
        let mut subscriber = Subscriber {
            ws,
            protocol,
            upstream,
        };
        subscriber.send(init).await;
        subscriber.expect("connection_ack").await;
        subscriber
    }

    async fn subscribe(&mut self, id: &str, query: &str) {
        match self.protocol {
            Protocol::AppSync => {
                let data = json!({"query": query, "variables": {}}).to_string();
                self.send(json!({"id": id, "type": "start", "payload": {"data": data}}))
                    .await;
                let ack = self.expect("start_ack").await;
                assert_eq!(ack["id"], id);
            }
            Protocol::TransportWs => {
                // No acknowledgement in this protocol: a query sent after it is answered once
                // the server listens (it handles a connection's messages in order).
                let payload = json!({"query": query, "variables": {}});
                self.send(json!({"id": id, "type": "subscribe", "payload": payload}))
                    .await;
                let barrier = format!("{id}-barrier");
                let payload = json!({"query": "{ __typename }"});
                self.send(json!({"id": barrier, "type": "subscribe", "payload": payload}))
                    .await;
                assert_eq!(self.expect("next").await["id"], barrier.as_str());
                assert_eq!(self.expect("complete").await["id"], barrier.as_str());
            }
        }
    }

    async fn send(&mut self, message: Value) {
        self.ws
            .send(Message::text(message.to_string()))
            .await
            .expect("the message is sent");
    }

    /// The next JSON message other than AppSync's `ka`, or how the connection ended.
    async fn next_within(&mut self, wait: Duration) -> Result<Value, Ended> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Err(Ended::Silent),
                Ok(None) | Ok(Some(Err(_))) => return Err(Ended::Closed(None)),
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).expect("a JSON message");
                    if value["type"] != "ka" {
                        return Ok(value);
                    }
                }
                Message::Close(frame) => return Err(Ended::Closed(frame.map(|f| f.code.into()))),
                _ => {}
            }
        }
    }

    async fn expect(&mut self, kind: &str) -> Value {
        match self.next_within(PATIENCE).await {
            Ok(message) => {
                assert_eq!(message["type"], kind, "expected {kind}, got {message}");
                message
            }
            Err(ended) => panic!("expected {kind}, got {ended:?}"),
        }
    }

    /// The next event: the subscription's id and its data.
    async fn event(&mut self) -> (String, Value) {
        let kind = match self.protocol {
            Protocol::AppSync => "data",
            Protocol::TransportWs => "next",
        };
        let message = self.expect(kind).await;
        let id = message["id"].as_str().unwrap_or_default().to_string();
        (id, message["payload"]["data"].clone())
    }

    /// Reads `count` events: the names of the trainers created, and (id, age) of the updates.
    /// Then nothing more may come.
    async fn hear(&mut self, count: usize) -> (Vec<String>, Vec<(String, i64)>) {
        let (mut created, mut updated) = (Vec::new(), Vec::new());
        for _ in 0..count {
            match self.event().await {
                (id, data) if id == "c" => created.push(
                    data["onCreateTrainer"]["firstName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
                (_, data) => updated.push((
                    data["onUpdateTrainer"]["id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    data["onUpdateTrainer"]["age"].as_i64().unwrap_or_default(),
                )),
            }
        }
        match self.next_within(QUIET).await {
            Err(Ended::Silent) => {}
            other => panic!("expected nothing more, got {other:?}"),
        }
        created.sort();
        (created, updated)
    }
}

/// `count` subscribers through nginx, one in four on `graphql-transport-ws`.
async fn subscribers(fleet: &Fleet, count: usize) -> Vec<Subscriber> {
    let mut subscribers = Vec::new();
    for n in 0..count {
        let protocol = if n % 4 == 3 {
            Protocol::TransportWs
        } else {
            Protocol::AppSync
        };
        subscribers.push(Subscriber::connect(fleet, protocol).await);
    }
    subscribers
}

/// How many of `subscribers` each server holds, by address; every server must hold some, of
/// both protocols.
fn spread(fleet: &Fleet, subscribers: &[Subscriber]) -> BTreeMap<String, (usize, usize)> {
    let mut by_server: BTreeMap<String, (usize, usize)> =
        fleet.upstreams().into_iter().map(|u| (u, (0, 0))).collect();
    for s in subscribers {
        let counts = by_server.entry(s.upstream.clone()).or_default();
        match s.protocol {
            Protocol::AppSync => counts.0 += 1,
            Protocol::TransportWs => counts.1 += 1,
        }
    }
    assert!(
        by_server.values().all(|&(a, t)| a > 0 && t > 0),
        "nginx spreads the subscribers over every server, both protocols on each: {by_server:?}"
    );
    by_server
}

/// Creates a trainer named `name` through nginx; its id, and the server that made it.
async fn create(fleet: &Fleet, name: &str) -> (String, String) {
    let query = format!(
        r#"mutation {{ createTrainer(firstName: "{name}", lastName: "Lovelace", age: 36, specialty: YOUTHFITNESS) {{ id firstName }} }}"#
    );
    let answer = fleet.graphql_answer(&query, json!({})).await;
    let id = GraphqlResponse(answer.body.clone()).ok()["createTrainer"]["id"]
        .as_str()
        .expect("an id")
        .to_string();
    (id, answer.upstream())
}

/// Sets a trainer's age through nginx; the server that did it.
async fn update_age(fleet: &Fleet, id: &str, age: i64) -> String {
    let query =
        format!(r#"mutation {{ updateTrainers(id: "{id}", age: {age}) {{ id age version }} }}"#);
    let answer = fleet.graphql_answer(&query, json!({})).await;
    GraphqlResponse(answer.body.clone()).ok();
    answer.upstream()
}

/// Every subscriber hears `names` created and each of `ids` updated to each of `ages`, in order,
/// each once, and nothing more. All listen at once.
async fn all_hear(subscribers: &mut [Subscriber], names: &[String], ids: &[String], ages: &[i64]) {
    let mut expected_names = names.to_vec();
    expected_names.sort();
    let count = names.len() + ids.len() * ages.len();
    let heard = futures::future::join_all(subscribers.iter_mut().map(|s| s.hear(count))).await;
    for (n, (created, updated)) in heard.into_iter().enumerate() {
        let on = &subscribers[n].upstream;
        assert_eq!(
            created, expected_names,
            "subscriber {n} (on {on}): every create, once"
        );
        for id in ids {
            let heard_ages: Vec<i64> = updated
                .iter()
                .filter(|(i, _)| i == id)
                .map(|(_, age)| *age)
                .collect();
            assert_eq!(
                heard_ages, ages,
                "subscriber {n} (on {on}), trainer {id}: in order, once"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn subscribers_on_every_server_hear_every_mutation_through_nginx_once() {
    let fleet = Fleet::start().await;
    let mut subscribers = subscribers(&fleet, 12).await;
    let spread = spread(&fleet, &subscribers);

    let mut made_by: BTreeMap<String, usize> = BTreeMap::new();
    let (mut names, mut ids) = (Vec::new(), Vec::new());
    for n in 0..6 {
        let name = format!("T{n}");
        let (id, by) = create(&fleet, &name).await;
        *made_by.entry(by).or_default() += 1;
        names.push(name);
        ids.push(id);
    }
    let ages = [40, 41];
    for age in ages {
        for id in &ids {
            *made_by
                .entry(update_age(&fleet, id, age).await)
                .or_default() += 1;
        }
    }
    let servers: BTreeSet<String> = fleet.upstreams().into_iter().collect();
    assert_eq!(
        made_by.keys().cloned().collect::<BTreeSet<_>>(),
        servers,
        "nginx spreads the mutations over every server: {made_by:?}"
    );
    all_hear(&mut subscribers, &names, &ids, &ages).await;
    println!(
        "subscribers by server (AppSync, graphql-transport-ws): {spread:?}; mutations by server: \
         {made_by:?}; each of {} subscribers heard {} events once",
        subscribers.len(),
        names.len() + ids.len() * ages.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn a_server_that_stops_closes_its_own_subscribers_and_nginx_uses_the_others() {
    let mut fleet = Fleet::start().await;
    let subscribers = subscribers(&fleet, 12).await;
    spread(&fleet, &subscribers);

    let stopping = fleet.servers.remove(0);
    let gone = stopping.addr.to_string();
    stopping.server.shut_down().await;
    let (mut closed, mut open): (Vec<Subscriber>, Vec<Subscriber>) =
        subscribers.into_iter().partition(|s| s.upstream == gone);
    for s in &mut closed {
        match s.next_within(PATIENCE).await {
            Err(Ended::Closed(code)) => assert_eq!(code, Some(1001), "through nginx, as sent"),
            other => panic!("a subscriber of the stopped server: expected 1001, got {other:?}"),
        }
    }

    // Every mutation through nginx succeeds: the stopped server refuses connections, and nginx
    // sends the request to the next one.
    let mut names = Vec::new();
    for n in 0..6 {
        let name = format!("After{n}");
        let (_, by) = create(&fleet, &name).await;
        assert_ne!(
            by.split(", ").last(),
            Some(gone.as_str()),
            "answered by a running server"
        );
        names.push(name);
    }
    all_hear(&mut open, &names, &[], &[]).await;
    println!(
        "{} subscribers closed with 1001, {} still hear every mutation; nginx's log:\n{}",
        closed.len(),
        open.len(),
        fleet.nginx.error_log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn an_idle_appsync_subscriber_lives_on_its_ka_where_a_silent_one_is_cut() {
    // The same proportions as in production (a `ka` every 60 s, proxy_read_timeout 300 s),
    // shrunk: a `ka` every 500 ms, proxy_read_timeout 2 s.
    let limits = Limits {
        keep_alive: Duration::from_millis(500),
        ..Limits::default()
    };
    let shrink =
        |conf: String| replace_once(&conf, "proxy_read_timeout 300s;", "proxy_read_timeout 2s;");
    let fleet = Fleet::start_with(&|s| s.realtime_limits(limits.clone()), &shrink).await;
    let mut appsync = Subscriber::connect(&fleet, Protocol::AppSync).await;
    let mut silent = Subscriber::connect(&fleet, Protocol::TransportWs).await;

    let idle = Instant::now();
    match silent.next_within(Duration::from_secs(6)).await {
        Err(Ended::Closed(_)) => {}
        other => panic!("nginx cuts a connection silent for proxy_read_timeout; got {other:?}"),
    }
    let cut_after = idle.elapsed();
    assert!(
        cut_after >= Duration::from_millis(1500),
        "cut at proxy_read_timeout, not before: {cut_after:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Idle for 3 s, past the timeout: its `ka`s kept it open, and it still hears events.
    create(&fleet, "StillThere").await;
    let (created, _) = appsync.hear(1).await;
    assert_eq!(created, vec!["StillThere".to_string()]);
    println!("the silent graphql-transport-ws connection was cut after {cut_after:?}; the AppSync one, idle {:?}, still hears", idle.elapsed());
}

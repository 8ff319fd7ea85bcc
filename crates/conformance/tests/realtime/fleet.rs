//! A fleet: three servers on one store, sharing events through Redis (`serve --events`): a
//! subscriber on any server hears the mutations made through every server, each once, in order
//! per trainer; and when Redis goes away and comes back, mutations never fail and events resume.
//! Redis is Debian's `redis-server`, started here on a free loopback port (`make test` installs
//! it; the tests are ignored by a bare `cargo test`).

#![allow(unused_imports)]
use super::*;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use trainers_api::events::redis::RedisEvents;
use trainers_api::events::Events;
use trainers_core::{TrainerId, TrainerStore};
use trainers_store_dynamodb::{create_table, local_client, DynamoStore};

const NEEDS_REDIS: &str = "needs Debian's redis-server (and, on DynamoDB, dynalite and moto_server): make test runs them (cargo test -- --include-ignored)";

/// A `redis-server` on a loopback port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        Redis::start_on(port)
    }

    fn start_on(port: u16) -> Redis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
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
        Redis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three servers on `store`, each with its own connections to Redis, ready.
async fn fleet(store: Arc<dyn TrainerStore>, redis: &Redis) -> Vec<TestServer> {
    let mut servers = Vec::new();
    for _ in 0..3 {
        let events = RedisEvents::start(&redis.url()).expect("a Redis URL");
        let server = TestServer::start_with(store.clone(), None, |s| {
            s.events(Events {
                sink: events.clone(),
                source: events,
            })
        })
        .await;
        servers.push(server);
    }
    for server in &servers {
        events_shared(server).await;
    }
    servers
}

/// Waits until the server's readiness probe says its events are shared.
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
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ON_CREATE: &str = "subscription { onCreateTrainer { id firstName } }";
const ON_UPDATE: &str = "subscription { onUpdateTrainer { id age version } }";

/// A subscriber on each server, to creates and to updates.
async fn subscribers(servers: &[TestServer]) -> Vec<Client> {
    let mut clients = Vec::new();
    for server in servers {
        let mut client = appsync(server).await;
        start(&mut client, "c", ON_CREATE, json!({})).await;
        start(&mut client, "u", ON_UPDATE, json!({})).await;
        clients.push(client);
    }
    clients
}

/// Reads `count` events from a subscriber: creates' names and updates' (id, age).
async fn hear(client: &mut Client, count: usize) -> (Vec<String>, Vec<(String, i64)>) {
    let (mut created, mut updated) = (Vec::new(), Vec::new());
    for _ in 0..count {
        let message = client.expect("data").await;
        let id = message["id"].as_str().unwrap_or_default();
        let data = &message["payload"]["data"];
        match id {
            "c" => created.push(
                data["onCreateTrainer"]["firstName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            ),
            _ => updated.push((
                data["onUpdateTrainer"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                data["onUpdateTrainer"]["age"].as_i64().unwrap_or_default(),
            )),
        }
    }
    client.expect_silence().await;
    (created, updated)
}

async fn every_subscriber_hears_every_server(store: Arc<dyn TrainerStore>) {
    let redis = Redis::start();
    let servers = fleet(store, &redis).await;
    let mut clients = subscribers(&servers).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let made = create(
            &servers[n % 3],
            &format!("T{n}"),
            "YOUTHFITNESS",
            "id firstName",
        )
        .await;
        ids.push(made["id"].as_str().expect("an id").to_string());
    }
    // Each trainer updated three times, each time through another server.
    for round in 0..3 {
        for (n, id) in ids.iter().enumerate() {
            update_age(&servers[(n + round + 1) % 3], id, 40 + round as i32).await;
        }
    }
    let names: Vec<String> = (0..6).map(|n| format!("T{n}")).collect();
    for (s, client) in clients.iter_mut().enumerate() {
        let (created, updated) = hear(client, 6 + 18).await;
        let mut heard = created.clone();
        heard.sort();
        assert_eq!(heard, names, "subscriber on server {s}: every create, once");
        for id in &ids {
            let ages: Vec<i64> = updated
                .iter()
                .filter(|(i, _)| i == id)
                .map(|(_, a)| *a)
                .collect();
            assert_eq!(
                ages,
                vec![40, 41, 42],
                "subscriber on server {s}, trainer {id}: in order, once"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server: make test runs it (cargo test -- --include-ignored)"]
async fn three_servers_on_one_store_share_every_event_through_redis() {
    let (store, _dir) = embedded_store();
    every_subscriber_hears_every_server(store).await;
}

/// A store on a fresh table of the DynamoDB-compatible server whose endpoint is in `var`.
async fn dynamodb(var: &str) -> Arc<dyn TrainerStore> {
    let endpoint = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: {NEEDS_REDIS}"));
    let client = local_client(&endpoint);
    let table = format!("trainers-fleet-{}", TrainerId::generate());
    create_table(&client, &table).await.expect("a table");
    Arc::new(DynamoStore::new(client, table, Some("fleet-test-secret")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn three_servers_on_one_dynalite_table_share_every_event() {
    every_subscriber_hears_every_server(dynamodb("TRAINERS_TEST_DYNALITE").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server and moto_server: make test runs them (cargo test -- --include-ignored)"]
async fn three_servers_on_one_moto_table_share_every_event() {
    every_subscriber_hears_every_server(dynamodb("TRAINERS_TEST_MOTO").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's redis-server: make test runs it (cargo test -- --include-ignored)"]
async fn mutations_never_fail_while_redis_is_away_and_events_resume() {
    let (store, _dir) = embedded_store();
    let redis = Redis::start();
    let port = redis.port;
    let servers = fleet(store, &redis).await;
    let mut clients = subscribers(&servers).await;

    create(&servers[0], "Before", "YOUTHFITNESS", "id firstName").await;
    for client in clients.iter_mut() {
        assert_eq!(hear(client, 1).await.0, vec!["Before".to_string()]);
    }

    drop(redis);
    // Every mutation succeeds; each server's own subscribers still hear its own.
    for (n, server) in servers.iter().enumerate() {
        create(server, &format!("Away{n}"), "YOUTHFITNESS", "id firstName").await;
    }
    let ready: Value = servers[0]
        .client
        .get(format!("http://{}/readyz", servers[0].addr))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(ready["status"], "ready", "mutations still work: {ready}");
    assert!(
        ready["events"]
            .as_str()
            .is_some_and(|e| e.contains("Redis")),
        "{ready}"
    );
    for (n, client) in clients.iter_mut().enumerate() {
        assert_eq!(
            hear(client, 1).await.0,
            vec![format!("Away{n}")],
            "server {n} hears its own"
        );
    }

    let _redis = Redis::start_on(port);
    for server in &servers {
        events_shared(server).await;
    }
    create(&servers[1], "After", "YOUTHFITNESS", "id firstName").await;
    for client in clients.iter_mut() {
        assert_eq!(
            hear(client, 1).await.0,
            vec!["After".to_string()],
            "events resume"
        );
    }
}

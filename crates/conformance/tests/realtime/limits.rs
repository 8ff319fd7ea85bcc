//! Bounded resources: connections, subscriptions, and a subscriber that stops reading.

#![allow(unused_imports)]
use super::*;

use super::transport_ws::transport_ws;

/// A server on a fresh embedded store with the given limits on WebSocket clients.
async fn limited_server(limits: Limits) -> TestServer {
    limited_server_with_send_buffer(limits, None).await
}

/// With a fixed send buffer on each accepted socket (which turns off the kernel's growing it),
/// so that a client that stops reading blocks the server's writes soon.
async fn limited_server_with_send_buffer(limits: Limits, send_buffer: Option<usize>) -> TestServer {
    let (store, dir) = embedded_store();
    TestServer::start_with(store, Some(Box::new(dir)), |server| {
        server.realtime_limits(limits).on_accept(move |tcp| {
            if let Some(size) = send_buffer {
                socket2::SockRef::from(tcp)
                    .set_send_buffer_size(size)
                    .expect("a send buffer size");
            }
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_refused_clearly() {
    let server = limited_server(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let _first = appsync_at(server.addr, Some(TEST_API_KEY)).await;
    let mut second = transport_ws(server.addr, TEST_API_KEY).await;
    second.expect("connection_ack").await;

    let url = realtime_url(server.addr, Some(TEST_API_KEY));
    let mut third = Client::connect(&url, &["graphql-ws"]).await;
    third.send(json!({"type": "connection_init"})).await;
    let refused = third.expect("connection_error").await;
    let error = &refused["payload"]["errors"][0];
    assert_eq!(error["errorType"], "LimitExceededError");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("limit of 2"));
    assert_eq!(third.expect_close().await.0, Some(1013));

    let mut fourth = transport_ws(server.addr, TEST_API_KEY).await;
    let (code, reason) = fourth.expect_close().await;
    assert_eq!(code, Some(1013));
    assert!(reason.contains("limit of 2"), "{reason}");

    // A connection that ends makes room.
    drop(second);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut client = Client::connect(&url, &["graphql-ws"]).await;
        client.send(json!({"type": "connection_init"})).await;
        if client.next().await["type"] == "connection_ack" {
            break;
        }
        assert!(Instant::now() < deadline, "a place never freed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A subscriber that stops reading: mutations stay fast, another subscriber gets every event,
/// and the slow one is told it fell behind and is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_slows_no_one_and_is_dropped() {
    let limits = Limits {
        outgoing_queue: 16,
        queue_wait: Duration::from_millis(200),
        farewell_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let server = limited_server_with_send_buffer(limits, Some(4096)).await;
    let query = format!("subscription {{ onCreateTrainer {{ {ALL_FIELDS} }} }}");

    let url = realtime_url(server.addr, Some(TEST_API_KEY));
    let mut slow = Client::connect_small_buffer(&url, server.addr).await;
    slow.send(json!({"type": "connection_init"})).await;
    slow.expect("connection_ack").await;
    for n in 0..10 {
        start(&mut slow, &format!("slow-{n}"), &query, json!({})).await;
    }
    let mut healthy = appsync_at(server.addr, Some(TEST_API_KEY)).await;
    start(&mut healthy, "healthy", &query, json!({})).await;

    // The slow client reads nothing from here on.
    let mutations = 200;
    let reader = tokio::spawn(async move {
        let mut names = Vec::new();
        while names.len() < mutations {
            let payload = data(&mut healthy, "healthy").await;
            names.push(payload["data"]["onCreateTrainer"]["firstName"].clone());
        }
        names
    });
    let mut slowest = Duration::ZERO;
    for n in 0..mutations {
        let started = Instant::now();
        create(&server, &format!("T{n}"), "YOUTHFITNESS", ALL_FIELDS).await;
        slowest = slowest.max(started.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a mutation took {slowest:?}"
    );
    let names = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("the healthy subscriber gets every event in time")
        .expect("the reader ends well");
    let expected: Vec<Value> = (0..mutations).map(|n| json!(format!("T{n}"))).collect();
    assert_eq!(names, expected, "every event, in order");

    // The slow client reads again: what was sent, then the notice, then the close.
    let mut told = false;
    loop {
        match slow.next_within(PATIENCE).await {
            Ok(message) if message["type"] == "data" => continue,
            Ok(message) => {
                assert_eq!(message["type"], "error", "{message}");
                assert!(message.get("id").is_none(), "{message}");
                assert_eq!(
                    message["payload"]["errors"][0]["errorType"],
                    "SubscriberTooSlow"
                );
                told = true;
            }
            Err(Ended::Closed(code, _)) => {
                assert_eq!(code, Some(1008));
                break;
            }
            Err(Ended::Silent) => panic!("the slow subscriber was never disconnected"),
        }
    }
    assert!(told, "the slow subscriber was told why");
}

/// Waits until the server runs no subscription execution at all; panics after [`PATIENCE`].
async fn until_no_execution_runs(server: &TestServer) {
    let deadline = Instant::now() + PATIENCE;
    while server.server.subscription_executions() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} subscription executions still run",
            server.server.subscription_executions()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Subscribing and completing, again and again, with subscriptions no event ever reaches: each
/// `stop` releases its execution at once (it used to stay, with its 4,096-slot channel, until an
/// event reached it: 2,000 cycles held 350 MB), and so does closing the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_subscriptions_release_what_they_held_at_once() {
    let (store, dir) = embedded_store();
    let server = TestServer::start_with(store, Some(Box::new(dir)), |server| server).await;
    let query = "subscription($id: ID) { onUpdateTrainer(id: $id) { id } }";
    let mut client = appsync(&server).await;
    for n in 0..300 {
        let id = format!("s{n}");
        start(&mut client, &id, query, json!({"id": format!("x-{n}")})).await;
        assert_eq!(server.server.subscription_executions(), 1);
        client.send(json!({"id": id, "type": "stop"})).await;
        let complete = client.expect("complete").await;
        assert_eq!(complete["id"], id);
        until_no_execution_runs(&server).await;
    }

    // Left running, then the connection closes: released too.
    for n in 0..20 {
        start(
            &mut client,
            &format!("k{n}"),
            query,
            json!({"id": format!("y-{n}")}),
        )
        .await;
    }
    assert_eq!(server.server.subscription_executions(), 20);
    drop(client);
    until_no_execution_runs(&server).await;

    // The same on graphql-transport-ws, whose `complete` comes from the client.
    let mut client = transport_ws(server.addr, TEST_API_KEY).await;
    client.expect("connection_ack").await;
    for n in 0..50 {
        let id = format!("t{n}");
        let payload = json!({"query": query, "variables": {"id": format!("z-{n}")}});
        client
            .send(json!({"id": id, "type": "subscribe", "payload": payload}))
            .await;
        let deadline = Instant::now() + PATIENCE;
        while server.server.subscription_executions() == 0 {
            assert!(Instant::now() < deadline, "the subscription never started");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        client.send(json!({"id": id, "type": "complete"})).await;
        until_no_execution_runs(&server).await;
    }
}

/// Inputs each refused by a bound of the HTTP path, with what the refusal says: a 0.9 MB query
/// (parsed whole before any bound, once), a filter of 150,000 empty objects as a variable (past
/// the variables' bound), and one of 15,000 (inside it, past the filter's bound of parts).
fn oversized_subscriptions() -> Vec<(String, Value, &'static str)> {
    let long_query = format!(
        "subscription {{ onCreateTrainer {{ id {} }} }}",
        "__typename ".repeat(90_000)
    );
    let filtered = "subscription ($f: ModelSubscriptionTrainersFilterInput) { onCreateTrainer(filter: $f) { id } }";
    let empties = |n: usize| json!({"f": {"and": vec![json!({}); n]}});
    vec![
        (long_query, json!({}), "the limit is 64 KiB"),
        (
            filtered.to_string(),
            empties(150_000),
            "more than 128 KiB of JSON",
        ),
        (
            filtered.to_string(),
            empties(15_000),
            "filter has more than 200 parts",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bound_of_http_applies_to_websocket_messages() {
    let server = spawn_embedded().await;
    let mut appsync_client = appsync(&server).await;
    let mut ws_client = transport_ws(server.addr, TEST_API_KEY).await;
    ws_client.expect("connection_ack").await;
    for (n, (query, variables, says)) in oversized_subscriptions().into_iter().enumerate() {
        let id = format!("big-{n}");
        appsync_client
            .send(start_message(
                &id,
                &query,
                variables.clone(),
                Some(TEST_API_KEY),
            ))
            .await;
        let refused = appsync_client.expect("error").await;
        assert_eq!(refused["id"], id.as_str());
        let message = refused["payload"]["errors"][0]["message"].to_string();
        assert!(message.contains(says), "AppSync {id}: {message:.300}");

        let payload = json!({"query": query, "variables": variables});
        ws_client
            .send(json!({"id": id, "type": "subscribe", "payload": payload}))
            .await;
        let refused = ws_client.next().await;
        assert_eq!(refused["id"], id.as_str());
        assert!(
            refused.to_string().contains(says),
            "graphql-transport-ws {id}: {refused:.300}"
        );
    }
    // Nothing was set up, and both connections still serve.
    assert_eq!(server.server.subscription_executions(), 0);
    let fine = "subscription { onCreateTrainer { id } }";
    start(&mut appsync_client, "fine", fine, json!({})).await;
    super::transport_ws::subscribe(&mut ws_client, "fine", fine, json!({})).await;
    create(&server, "Ada", "YOUTHFITNESS", "id").await;
    assert!(data(&mut appsync_client, "fine").await["data"]["onCreateTrainer"]["id"].is_string());
    assert_eq!(ws_client.expect("next").await["id"], "fine");
}

/// An AppSync connection whose handshake had no key holds a place for `key_timeout` at most:
/// it used to be acknowledged and kept alive forever, so anyone could fill the cap. One that
/// shows a valid key in a `start` in time stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_key_is_closed_soon_and_frees_its_place() {
    let server = limited_server(Limits {
        max_connections: 3,
        key_timeout: Duration::from_millis(500),
        keep_alive: Duration::from_millis(100),
        ..Limits::default()
    })
    .await;
    let url = realtime_url(server.addr, None);
    let mut idle = Vec::new();
    for _ in 0..2 {
        let mut client = Client::connect(&url, &["graphql-ws"]).await;
        client.send(json!({"type": "connection_init"})).await;
        client.expect("connection_ack").await;
        idle.push(client);
    }
    let mut keyed = Client::connect(&url, &["graphql-ws"]).await;
    keyed.send(json!({"type": "connection_init"})).await;
    keyed.expect("connection_ack").await;
    start(
        &mut keyed,
        "s",
        "subscription { onCreateTrainer { id } }",
        json!({}),
    )
    .await;
    assert_eq!(server.server.open_connections(), 3);

    for client in &mut idle {
        let refused = client.expect("connection_error").await;
        assert_eq!(
            refused["payload"]["errors"][0]["errorType"],
            "UnauthorizedException"
        );
        assert_eq!(refused["payload"]["errors"][0]["errorCode"], 401);
        assert_eq!(client.expect_close().await.0, Some(1008));
    }
    let deadline = Instant::now() + PATIENCE;
    while server.server.open_connections() > 1 {
        assert!(
            Instant::now() < deadline,
            "the keyless connections still count"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The keyed one outlived the timeout, and still gets its events.
    let created = create(&server, "Ada", "YOUTHFITNESS", "id").await;
    assert_eq!(
        data(&mut keyed, "s").await["data"]["onCreateTrainer"],
        created
    );
}

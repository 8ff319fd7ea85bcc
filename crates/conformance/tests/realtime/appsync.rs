//! AppSync's real-time protocol.

#![allow(unused_imports)]
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_subscriber_gets_the_created_trainer_as_the_mutation_selected_it() {
    let server = spawn_embedded().await;
    let mut client = Client::connect(
        &realtime_url(server.addr, Some(TEST_API_KEY)),
        &["graphql-ws"],
    )
    .await;
    assert_eq!(client.protocol.as_deref(), Some("graphql-ws"));
    client.send(json!({"type": "connection_init"})).await;
    client.expect("connection_ack").await;
    // A keep-alive follows the acknowledgement at once.
    let ka = tokio::time::timeout(PATIENCE, client.ws.next()).await;
    assert!(
        matches!(&ka, Ok(Some(Ok(Message::Text(t)))) if t.as_str() == r#"{"type":"ka"}"#),
        "expected ka, got {ka:?}"
    );

    let query = format!("subscription {{ onCreateTrainer {{ {ALL_FIELDS} }} }}");
    start(&mut client, "1", &query, json!({})).await;
    let created = create(&server, "Ada", "YOUTHFITNESS", ALL_FIELDS).await;
    let payload = data(&mut client, "1").await;
    assert_eq!(payload, json!({"data": {"onCreateTrainer": created}}));

    // stop → complete, and nothing after.
    client.send(json!({"type": "stop", "id": "1"})).await;
    assert_eq!(client.expect("complete").await["id"], "1");
    create(&server, "Grace", "YOUTHFITNESS", ALL_FIELDS).await;
    client.expect_silence().await;
}

/// Subscribers of the same subscription share one execution of it: each still gets every event,
/// one leaving stops nothing for the others, one joining later gets what follows, and one with
/// other variables gets its own results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_subscriptions_share_an_execution_and_each_gets_every_event() {
    let server = spawn_embedded().await;
    let query =
        "subscription($s: Specialty) { onCreateTrainer(specialty: $s) { firstName specialty } }";
    let youth = json!({"s": "YOUTHFITNESS"});
    let (mut a, mut b) = (appsync(&server).await, appsync(&server).await);
    start(&mut a, "a", query, youth.clone()).await;
    start(&mut b, "b", query, youth.clone()).await;
    let mut other = appsync(&server).await;
    start(&mut other, "o", query, json!({"s": "BODYBUILDING"})).await;

    create(&server, "Ada", "YOUTHFITNESS", "firstName specialty").await;
    let ada =
        json!({"data": {"onCreateTrainer": {"firstName": "Ada", "specialty": "YOUTHFITNESS"}}});
    assert_eq!(data(&mut a, "a").await, ada);
    assert_eq!(data(&mut b, "b").await, ada);
    other.expect_silence().await;

    a.send(json!({"type": "stop", "id": "a"})).await;
    a.expect("complete").await;
    let mut late = appsync(&server).await;
    start(&mut late, "l", query, youth).await;
    create(&server, "Grace", "YOUTHFITNESS", "firstName specialty").await;
    create(&server, "Bo", "BODYBUILDING", "firstName specialty").await;
    let grace =
        json!({"data": {"onCreateTrainer": {"firstName": "Grace", "specialty": "YOUTHFITNESS"}}});
    assert_eq!(data(&mut b, "b").await, grace);
    assert_eq!(data(&mut late, "l").await, grace);
    assert_eq!(
        data(&mut other, "o").await["data"]["onCreateTrainer"]["firstName"],
        "Bo"
    );
    a.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_header_as_subprotocol_at_slash_graphql() {
    let server = spawn_embedded().await;
    let header = URL_SAFE_NO_PAD.encode(appsync_header(server.addr, TEST_API_KEY).to_string());
    let header_protocol = format!("header-{header}");
    let url = format!("ws://{}/graphql", server.addr);
    let mut client = Client::connect(&url, &["graphql-ws", &header_protocol]).await;
    assert_eq!(client.protocol.as_deref(), Some("graphql-ws"));
    client.send(json!({"type": "connection_init"})).await;
    client.expect("connection_ack").await;
    // The key came with the handshake: a start without authorization is fine.
    let query = "subscription { onCreateTrainer { id firstName } }";
    client
        .send(start_message("a", query, json!({}), None))
        .await;
    client.expect("start_ack").await;
    let created = create(&server, "Ada", "BODYBUILDING", "id firstName").await;
    let payload = data(&mut client, "a").await;
    assert_eq!(payload["data"]["onCreateTrainer"], created);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_key_in_start_extensions_only() {
    let server = spawn_embedded().await;
    // No header at all, and no connection_init: both are optional.
    let mut client = Client::connect(&realtime_url(server.addr, None), &["graphql-ws"]).await;
    let query = "subscription { onCreateTrainer { id } }";
    client
        .send(start_message("no-key", query, json!({}), None))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "no-key");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    client
        .send(start_message(
            "bad-key",
            query,
            json!({}),
            Some("da2-wrong"),
        ))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "bad-key");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
    assert_eq!(refused["payload"]["errors"][0]["errorCode"], 401);

    start(&mut client, "good", query, json!({})).await;
    let created = create(&server, "Ada", "BODYBUILDING", "id").await;
    assert_eq!(
        data(&mut client, "good").await["data"]["onCreateTrainer"],
        created
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_bad_key_in_handshake_gets_connection_error() {
    let server = spawn_embedded().await;
    for key in ["da2-wrong", ""] {
        let url = realtime_url(server.addr, Some(key));
        let mut client = Client::connect(&url, &["graphql-ws"]).await;
        client.send(json!({"type": "connection_init"})).await;
        let refused = client.expect("connection_error").await;
        assert_eq!(
            refused["payload"]["errors"][0],
            json!({
                "errorType": "UnauthorizedException",
                "message": "You are not authorized to make this call.",
                "errorCode": 401
            }),
            "as AppSync writes it: clients give up at once on errorCode 401"
        );
        client.expect_close().await;
    }
    // A header that is not base64 JSON is refused too.
    let url = format!(
        "ws://{}/graphql/realtime?header=not-json&payload=e30=",
        server.addr
    );
    let mut client = Client::connect(&url, &["graphql-ws"]).await;
    client.send(json!({"type": "connection_init"})).await;
    let refused = client.expect("connection_error").await;
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "UnauthorizedException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_arguments_filter_on_the_payload() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let a = create(&server, "Ada", "YOUTHFITNESS", "id").await;
    let b = create(&server, "Bob", "BODYBUILDING", "id").await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let by_id = "subscription ($id: ID) { onUpdateTrainer(id: $id) { id age } }";
    start(&mut client, "by-id", by_id, json!({"id": a})).await;
    let by_specialty =
        "subscription { onCreateTrainer(specialty: SENIORFITNESS) { id specialty } }";
    start(&mut client, "by-specialty", by_specialty, json!({})).await;

    update_age(&server, b, 50).await;
    update_age(&server, a, 51).await;
    let payload = data(&mut client, "by-id").await;
    assert_eq!(
        payload["data"]["onUpdateTrainer"],
        json!({"id": a, "age": 51})
    );

    create(&server, "Cy", "BODYBUILDING", ALL_FIELDS).await;
    let senior = create(&server, "Di", "SENIORFITNESS", ALL_FIELDS).await;
    let payload = data(&mut client, "by-specialty").await;
    assert_eq!(
        payload["data"]["onCreateTrainer"],
        json!({"id": senior["id"], "specialty": "SENIORFITNESS"})
    );

    // The filter reads the payload as the mutation selected it: a mutation that did not select
    // `specialty` matches no subscriber filtering on it.
    create(&server, "Ed", "SENIORFITNESS", "id").await;
    client.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_unselected_fields_are_null_and_non_null_ones_an_error() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let nullable = "subscription { onCreateTrainer { id firstName specialty } }";
    start(&mut client, "nullable", nullable, json!({})).await;
    let non_null = "subscription { onCreateTrainer { id lastName } }";
    start(&mut client, "non-null", non_null, json!({})).await;

    // The mutation selects neither specialty nor lastName.
    let created = create(&server, "Ada", "YOUTHFITNESS", "id firstName").await;
    let mut messages = [client.next().await, client.next().await];
    messages.sort_by_key(|m| m["id"].as_str().map(str::to_string));
    let [non_null_message, nullable_message] = &messages;
    assert_eq!(nullable_message["type"], "data");
    assert_eq!(
        nullable_message["payload"],
        json!({"data": {"onCreateTrainer": {"id": created["id"], "firstName": "Ada", "specialty": null}}})
    );
    assert_eq!(non_null_message["type"], "data", "{non_null_message}");
    let payload = &non_null_message["payload"];
    assert_eq!(payload["data"], json!({"onCreateTrainer": null}));
    let error = &payload["errors"][0];
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("lastName"),
        "{error}"
    );
    assert_eq!(error["path"], json!(["onCreateTrainer", "lastName"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_failed_mutation_fires_nothing() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let created = create(&server, "Ada", "YOUTHFITNESS", "id").await;
    let id = created["id"].as_str().unwrap();
    for kind in ["onCreateTrainer", "onUpdateTrainer", "onDeleteTrainer"] {
        let query = format!("subscription {{ {kind} {{ id version }} }}");
        start(&mut client, kind, &query, json!({})).await;
    }

    let failures = [
        // Invalid arguments.
        r#"mutation { createTrainer(firstName: "", lastName: "X", age: 30) { id } }"#.to_string(),
        r#"mutation { createTrainer(firstName: "A", lastName: "X", age: 12) { id } }"#.to_string(),
        // Version conflicts.
        format!(r#"mutation {{ updateTrainers(id: "{id}", age: 40, expectedVersion: 7) {{ id }} }}"#),
        format!(r#"mutation {{ deleteTrainer(id: "{id}", expectedVersion: 7) {{ id }} }}"#),
        // No such trainer.
        r#"mutation { updateTrainers(id: "00000000-0000-7000-8000-000000000000", age: 40) { id } }"#.to_string(),
        r#"mutation { deleteTrainer(id: "00000000-0000-7000-8000-000000000000") { id } }"#.to_string(),
    ];
    for failure in &failures {
        let response = server.graphql(failure, json!({})).await;
        assert!(!response.errors().is_empty(), "{failure} should fail");
    }
    client.expect_silence().await;

    // The next successful mutation is the first event.
    update_age(&server, id, 41).await;
    let message = client.expect("data").await;
    assert_eq!(message["id"], "onUpdateTrainer");
    assert_eq!(
        message["payload"]["data"]["onUpdateTrainer"],
        json!({"id": id, "version": 2})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_refuses_what_is_not_a_subscription() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let mutation = r#"mutation { createTrainer(firstName: "A", lastName: "B", age: 30) { id } }"#;
    client
        .send(start_message("m", mutation, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "m");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "ValidationError"
    );
    let page = server
        .graphql("{ allTrainers { items { id } } }", json!({}))
        .await;
    assert_eq!(
        page.ok()["allTrainers"]["items"],
        json!([]),
        "nothing was created"
    );

    // A subscription that does not validate gets an error, not start_ack.
    let invalid = "subscription { onCreateTrainer { nope } }";
    client
        .send(start_message("v", invalid, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "v");
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "ValidationError"
    );

    // data that is not a JSON string of {query, variables}.
    let bad = json!({"id": "d", "type": "start", "payload": {"data": 42}});
    client.send(bad).await;
    let refused = client.expect("error").await;
    assert_eq!(
        refused["payload"]["errors"][0]["errorType"],
        "MalformedHttpRequestException"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_caps_subscriptions_per_connection() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let query = "subscription { onCreateTrainer { id } }";
    for n in 0..100 {
        start(&mut client, &n.to_string(), query, json!({})).await;
    }
    client
        .send(start_message("101st", query, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(
        refused["payload"]["errors"][0],
        json!({"errorType": "MaxSubscriptionsReachedError", "message": "Max number of 100 subscriptions reached"})
    );
    // Stopping one makes room.
    client.send(json!({"type": "stop", "id": "7"})).await;
    client.expect("complete").await;
    start(&mut client, "101st", query, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_filter_argument_applies_to_the_payload() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let query = "subscription ($f: ModelSubscriptionTrainersFilterInput) {
        onCreateTrainer(filter: $f) { id firstName specialty } }";
    let filter = json!({"or": [
        {"firstName": {"beginsWith": "A"}, "specialty": {"in": ["YOUTHFITNESS", "SENIORFITNESS"]}},
        {"firstName": {"eq": "Zed"}},
    ]});
    start(&mut client, "f", query, json!({ "f": filter })).await;
    let older = "subscription { onUpdateTrainer(filter: {age: {gt: 40}}) { id age } }";
    start(&mut client, "older", older, json!({})).await;

    create(&server, "Ada", "BODYBUILDING", ALL_FIELDS).await;
    create(&server, "Bob", "YOUTHFITNESS", ALL_FIELDS).await;
    let ann = create(&server, "Ann", "SENIORFITNESS", ALL_FIELDS).await;
    let payload = data(&mut client, "f").await;
    assert_eq!(
        payload["data"]["onCreateTrainer"],
        json!({"id": ann["id"], "firstName": "Ann", "specialty": "SENIORFITNESS"})
    );
    let zed = create(&server, "Zed", "BODYBUILDING", ALL_FIELDS).await;
    let payload = data(&mut client, "f").await;
    assert_eq!(payload["data"]["onCreateTrainer"]["id"], zed["id"]);
    // A field the mutation did not select has no value: `specialty` here.
    create(&server, "Amy", "YOUTHFITNESS", "id firstName").await;
    client.expect_silence().await;

    let id = zed["id"].as_str().unwrap_or_default();
    update_age(&server, id, 30).await;
    update_age(&server, id, 41).await;
    let payload = data(&mut client, "older").await;
    assert_eq!(
        payload["data"]["onUpdateTrainer"],
        json!({"id": id, "age": 41})
    );
    client.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appsync_bad_filter_is_refused_at_start() {
    let server = spawn_embedded().await;
    let mut client = appsync(&server).await;
    let query = "subscription { onCreateTrainer(filter: {age: {between: [1]}}) { id } }";
    client
        .send(start_message("bad", query, json!({}), Some(TEST_API_KEY)))
        .await;
    let refused = client.expect("error").await;
    assert_eq!(refused["id"], "bad");
    let error = &refused["payload"]["errors"][0];
    assert_eq!(error["errorType"], "ValidationError", "{refused}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("filter.age.between"),
        "{refused}"
    );
}

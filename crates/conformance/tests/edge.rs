//! The local server's edge, as clients, operators and attackers meet it: AppSync's error header,
//! requests refused before their cost is paid (bodies, slow heads, abusive queries), TLS and
//! plain HTTP on one port, and a shutdown that closes every WebSocket and waits for no one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use trainers_api::http::tls;
use trainers_api::HttpLimits;
use trainers_conformance::server::{embedded_store, TEST_API_KEY};
use trainers_conformance::{spawn_embedded, Target, TestServer};

const PATIENCE: Duration = Duration::from_secs(10);

/// Sends raw bytes on a fresh connection and reads until the server closes it or `PATIENCE`.
async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("a connection");
    stream.write_all(request).await.expect("sent");
    read_all(&mut stream).await
}

/// An AppSync real-time WebSocket at `path`, the key in the handshake's `header` parameter.
async fn appsync_socket(
    addr: SocketAddr,
    path: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>> {
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        json!({"host": addr.to_string(), "x-api-key": TEST_API_KEY}).to_string(),
    );
    let url = format!("ws://{addr}{path}?header={header}&payload=e30=");
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-ws"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket handshake succeeds");
    ws
}

async fn read_all(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn post(body: &str, key: &str) -> Vec<u8> {
    format!(
        "POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: {key}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn every_refused_request_names_its_error_type_in_a_header_and_in_json() {
    let server = spawn_embedded().await;
    let big = "x".repeat(1024 * 1024 + 1);
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            server.client.post(server.url()).body("{}"),
            401,
            "UnauthorizedException",
        ),
        (
            server
                .client
                .post(server.url())
                .header("x-api-key", TEST_API_KEY)
                .body("{"),
            400,
            "MalformedHttpRequestException",
        ),
        (
            server
                .client
                .post(server.url())
                .header("x-api-key", TEST_API_KEY)
                .body(big),
            413,
            "MalformedHttpRequestException",
        ),
        (
            server.client.get(format!("http://{}/nowhere", server.addr)),
            404,
            "MalformedHttpRequestException",
        ),
        (
            server.client.put(server.url()),
            405,
            "MalformedHttpRequestException",
        ),
        (
            server.client.get(server.url()),
            400,
            "MalformedHttpRequestException",
        ),
    ];
    for (request, status, error_type) in cases {
        let response = request.send().await.expect("an answer");
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(
            response.headers()["x-amzn-ErrorType"],
            error_type,
            "Amplify reads the error's name from this header"
        );
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(body["errors"][0]["errorType"], error_type, "{body}");
        assert!(body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let server = spawn_embedded().await;
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: x\r\nx-api-key: {TEST_API_KEY}\r\n\
         content-type: application/json\r\ncontent-length: 2097152\r\nexpect: 100-continue\r\n\r\n"
    );
    let answer = raw(server.addr, head.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 413"),
        "413 at once, no 100 Continue: {answer}"
    );
}

#[tokio::test]
async fn a_client_that_sends_half_a_head_or_nothing_is_closed_after_the_header_timeout() {
    let (store, dir) = embedded_store();
    let limits = HttpLimits {
        header_read_timeout: Duration::from_millis(300),
        ..HttpLimits::default()
    };
    let server =
        TestServer::start_with(store, Some(Box::new(dir)), |s| s.http_limits(limits)).await;
    for sent in [&b""[..], b"POST /graphql HTTP/1.1\r\nhost: x\r\n"] {
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr).await.expect("a connection");
        stream.write_all(sent).await.expect("sent");
        read_all(&mut stream).await;
        assert!(
            started.elapsed() < PATIENCE,
            "the server closed the connection ({} bytes sent)",
            sent.len()
        );
    }
    // A kept-alive connection that idles is closed too; one that asks in time is served.
    let answer = raw(
        server.addr,
        &post(r#"{"query": "{ __typename }"}"#, TEST_API_KEY),
    )
    .await;
    assert!(
        answer.contains(r#"{"data":{"__typename":"Query"}}"#),
        "{answer}"
    );
}

#[tokio::test]
async fn abusive_queries_are_refused_with_a_validation_error_that_names_the_bound() {
    let server = spawn_embedded().await;
    // Each fragment spreads the one before twice: 2^30 fields in about 1.4 KB.
    let mut bomb = String::from(
        "query { getTrainer(id: \"x\") { ...F30 } }\nfragment F0 on Trainers { id }\n",
    );
    for n in 1..=30 {
        bomb.push_str(&format!(
            "fragment F{n} on Trainers {{ ...F{} ...F{} }}\n",
            n - 1,
            n - 1
        ));
    }
    let aliases: String = (0..2_000).map(|n| format!("a{n}: firstName ")).collect();
    // The same, on a fragment that is not defined (found by fuzzing: validation walked it all).
    let mut unknown_bomb = String::from(
        "query { getTrainer(id: \"x\") { ...F40 } }\nfragment F0 on Trainers { ...Missing ...Missing }\n",
    );
    for n in 1..=40 {
        unknown_bomb.push_str(&format!(
            "fragment F{n} on Trainers {{ ...F{} ...F{} }}\n",
            n - 1,
            n - 1
        ));
    }
    let long: String = (0..6_000).map(|n| format!("a{n}: __typename ")).collect();
    let skips = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(1_000));
    let cases = [
        (bomb, "at most 5000 fields"),
        (
            format!("{{ allTrainers(limit: 100) {{ items {{ {aliases} }} }} }}"),
            "at most 5000 fields",
        ),
        (skips, "at most 50 directives"),
        (unknown_bomb, "Unknown fragment: \"Missing\""),
        (format!("{{ {long} }}"), "the limit is 64 KiB"),
        ("{ __typename(arg: 1) }".into(), "Unknown argument \"arg\""),
        ("{ __typename @nope }".into(), "Unknown directive \"@nope\""),
        (
            "{ __typename @include(if: $undefined) }".into(),
            "Variable \"$undefined\" is not defined",
        ),
    ];
    for (query, says) in cases {
        let response = server.graphql(&query, json!({})).await;
        let error = response.expect_error("ValidationError", says);
        assert_eq!(response.data(), &Value::Null, "{error}");
    }
}

#[tokio::test]
async fn skip_and_include_read_a_variables_default() {
    let server = spawn_embedded().await;
    let query = "query($hide: Boolean = true, $show: Boolean = false) {
        allTrainers { nextToken @skip(if: $hide) items @include(if: $show) { id } __typename }
    }";
    let response = server.graphql(query, json!({})).await;
    assert_eq!(
        response.ok(),
        &json!({"allTrainers": {"__typename": "PaginatedTrainers"}})
    );
    let response = server
        .graphql(query, json!({"hide": false, "show": true}))
        .await;
    assert_eq!(
        response.ok(),
        &json!({"allTrainers": {"nextToken": null, "items": [], "__typename": "PaginatedTrainers"}})
    );
}

/// A TLS connection to the server, trusting only the local CA of `trainers tls create`.
async fn tls_connect(
    addr: SocketAddr,
    ca: &std::path::Path,
    name: &str,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.expect("a connection");
    let name = ServerName::try_from(name.to_string()).expect("a server name");
    connector
        .connect(name, tcp)
        .await
        .expect("the TLS handshake succeeds with the local CA")
}

async fn exchange(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), request: &[u8]) -> String {
    stream.write_all(request).await.expect("sent");
    read_all(stream).await
}

#[tokio::test]
async fn tls_and_plain_http_and_websockets_share_one_port() {
    let certs = tempfile::tempdir().expect("a temporary directory");
    let files = tls::create_local(certs.path()).expect("a local CA and certificate");
    let config = tls::server_config(&files.cert, &files.key).expect("a TLS configuration");
    let (store, dir) = embedded_store();
    let server = TestServer::start_with(store, Some(Box::new(dir)), |s| s.tls(config)).await;
    let query = post(r#"{"query": "{ __typename }"}"#, TEST_API_KEY);
    let expected = r#"{"data":{"__typename":"Query"}}"#;

    for name in ["localhost", "127.0.0.1"] {
        let mut tls = tls_connect(server.addr, &files.ca, name).await;
        let answer = exchange(&mut tls, &query).await;
        assert!(answer.contains(expected), "https for {name}: {answer}");
    }
    let answer = raw(server.addr, &query).await;
    assert!(answer.contains(expected), "http: {answer}");

    // wss://, as Amplify derives it from an https endpoint.
    let header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        json!({"host": server.addr.to_string(), "x-api-key": TEST_API_KEY}).to_string(),
    );
    let mut request = format!("wss://localhost:{}/graphql/realtime", server.addr.port())
        .into_client_request()
        .expect("a WebSocket URL");
    let protocols = format!("graphql-ws, header-{header}");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_str(&protocols).expect("a header value"),
    );
    let stream = tls_connect(server.addr, &files.ca, "localhost").await;
    let (mut ws, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .expect("the WebSocket handshake succeeds over TLS");
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .expect("sent");
    let ack = tokio::time::timeout(PATIENCE, ws.next())
        .await
        .expect("an answer in time");
    let ack: Value = match ack {
        Some(Ok(Message::Text(text))) => serde_json::from_str(&text).expect("JSON"),
        other => panic!("expected connection_ack, got {other:?}"),
    };
    assert_eq!(ack["type"], "connection_ack");
}

#[tokio::test]
async fn a_shutdown_closes_websockets_with_1001_and_waits_for_no_one() {
    let (store, dir) = embedded_store();
    let server = TestServer::start_with(store, Some(Box::new(dir)), |s| {
        s.shutdown_timeout(Duration::from_secs(2))
    })
    .await;
    let mut ws = appsync_socket(server.addr, "/graphql/realtime").await;
    // A client holding half a request head, which must not delay the exit.
    let mut half = TcpStream::connect(server.addr).await.expect("a connection");
    half.write_all(b"POST /graphql HTTP/1.1\r\nhost: x\r\n")
        .await
        .expect("sent");

    let TestServer {
        server: running, ..
    } = server;
    let started = Instant::now();
    running.shut_down().await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the shutdown took {:?}",
        started.elapsed()
    );
    let closed = loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(closed.map(|f| f.code), Some(CloseCode::Away));
}

#[tokio::test]
async fn a_shutdown_answers_the_connections_still_waiting_to_be_accepted() {
    // One connection served at once: the others wait in the kernel's listen queue, their
    // requests sent, as a proxy's would be when the stop comes.
    let (store, dir) = embedded_store();
    let server = TestServer::start_with(store, Some(Box::new(dir)), |s| {
        s.http_limits(HttpLimits {
            max_connections: 1,
            ..HttpLimits::default()
        })
    })
    .await;
    let _held = TcpStream::connect(server.addr).await.expect("a connection");
    let mut queued = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(server.addr).await.expect("a connection");
        stream
            .write_all(&post(r#"{"query": "{ __typename }"}"#, TEST_API_KEY))
            .await
            .expect("sent");
        queued.push(stream);
    }
    let TestServer {
        server: running, ..
    } = server;
    running.shut_down().await;
    for mut stream in queued {
        let answer = read_all(&mut stream).await;
        assert!(
            answer.starts_with("HTTP/1.1 200")
                && answer.contains(r#"{"data":{"__typename":"Query"}}"#),
            "a request sent before the stop was not answered: {answer:?}"
        );
    }
}

#[tokio::test]
async fn an_endpoint_given_with_a_trailing_slash_still_serves() {
    let server = spawn_embedded().await;
    // A client configured with `…/graphql/` posts there, and derives `…/graphql//realtime`.
    let answer = raw(
        server.addr,
        String::from_utf8_lossy(&post(r#"{"query": "{ __typename }"}"#, TEST_API_KEY))
            .replacen("POST /graphql ", "POST /graphql/ ", 1)
            .as_bytes(),
    )
    .await;
    assert!(
        answer.contains(r#"{"data":{"__typename":"Query"}}"#),
        "{answer}"
    );
    let mut ws = appsync_socket(server.addr, "/graphql//realtime").await;
    ws.send(Message::text(
        json!({"type": "connection_init"}).to_string(),
    ))
    .await
    .expect("sent");
    match tokio::time::timeout(PATIENCE, ws.next()).await {
        Ok(Some(Ok(Message::Text(text)))) => assert!(text.contains("connection_ack"), "{text}"),
        other => panic!("expected connection_ack, got {other:?}"),
    }
}

#[tokio::test]
async fn fields_come_in_the_order_the_query_selected_them() {
    let server = spawn_embedded().await;
    let body = r#"{"query": "mutation { createTrainer(firstName: \"Ada\", lastName: \"L\", age: 30) { lastName id firstName age } }"}"#;
    let answer = raw(server.addr, &post(body, TEST_API_KEY)).await;
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    let order: Vec<usize> = ["\"lastName\"", "\"id\"", "\"firstName\"", "\"age\""]
        .iter()
        .map(|key| json.find(key).unwrap_or(usize::MAX))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{json}");
}

#[tokio::test]
async fn a_client_that_closes_hears_its_close_answered() {
    let server = spawn_embedded().await;
    let mut ws = appsync_socket(server.addr, "/graphql/realtime").await;
    let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    };
    ws.close(Some(frame)).await.expect("a close frame sent");
    let answered = loop {
        match tokio::time::timeout(PATIENCE, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected the close answered, got {other:?}"),
        }
    };
    assert_eq!(answered.map(|f| f.code), Some(CloseCode::Normal));
}

#[tokio::test]
async fn a_deeply_nested_argument_is_refused_and_the_server_lives_on() {
    let server = spawn_embedded().await;
    // 60 KiB of `{not:` nesting: too deep for any filter, and for a recursive parser's stack.
    let levels = 60 * 1024 / 6;
    let value = format!(
        "{}{{age:{{eq:1}}}}{}",
        "{not:".repeat(levels),
        "}".repeat(levels)
    );
    let query = format!("{{ countTrainers(filter: {value}) }}");
    let body = json!({ "query": query }).to_string();
    let answer = raw(server.addr, &post(&body, TEST_API_KEY)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
    assert!(answer.contains("ValidationError"), "{answer:.300}");
    let list = json!({ "query": format!("{{ allTrainers(specialty: {}) {{ nextToken }} }}", "[".repeat(levels)) });
    let answer = raw(server.addr, &post(&list.to_string(), TEST_API_KEY)).await;
    assert!(answer.contains("ValidationError"), "{answer:.300}");
    let fine = raw(
        server.addr,
        &post(r#"{"query": "{ countTrainers }"}"#, TEST_API_KEY),
    )
    .await;
    assert!(
        fine.contains(r#"{"data":{"countTrainers":0}}"#),
        "{fine:.300}"
    );
}

#[tokio::test]
async fn a_filter_of_empty_objects_as_a_variable_is_refused_before_its_cost_is_paid() {
    let server = spawn_embedded().await;
    let query = "query($f: ModelTrainersFilterInput) { countTrainers(filter: $f) }";
    let body = |n: usize| {
        json!({"query": query, "variables": {"f": {"and": vec![json!({}); n]}}}).to_string()
    };
    // 150,000 empty objects: past the variables' bound, refused as the request is read.
    let answer = raw(server.addr, &post(&body(150_000), TEST_API_KEY)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.300}");
    assert!(
        answer.contains("more than 128 KiB of JSON"),
        "{answer:.300}"
    );
    // 15,000: inside it, past the filter's bound of parts (each empty object counts).
    let answer = raw(server.addr, &post(&body(15_000), TEST_API_KEY)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
    assert!(answer.contains("ValidationError"), "{answer:.300}");
    assert!(
        answer.contains("filter has more than 200 parts"),
        "{answer:.300}"
    );
}

/// Root fields too: the spec orders a response's fields as the selection set, aliases or not.
#[tokio::test]
async fn root_fields_come_in_the_order_the_query_selected_them() {
    let server = spawn_embedded().await;
    for (query, keys) in [
        (
            "{ countTrainers allTrainers { nextToken } }",
            ["\"countTrainers\"", "\"allTrainers\""],
        ),
        (
            "{ z: countTrainers a: allTrainers { nextToken } }",
            ["\"z\"", "\"a\""],
        ),
        (
            "{ getTrainer(id: \"x\") { id } countTrainers }",
            ["\"getTrainer\"", "\"countTrainers\""],
        ),
    ] {
        let body = json!({ "query": query }).to_string();
        let answer = raw(server.addr, &post(&body, TEST_API_KEY)).await;
        let json = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
        let first = json.find(keys[0]).unwrap_or(usize::MAX);
        let second = json.find(keys[1]).unwrap_or(usize::MAX);
        assert!(first < second && second < usize::MAX, "{query}: {json}");
    }
}

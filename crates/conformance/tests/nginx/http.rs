//! What a server answers comes through nginx as the server answers it: the same status, body,
//! `x-amzn-ErrorType` (which Amplify reads), content type and CORS headers, for refused keys,
//! malformed requests, bodies over 1 MiB (the server's 413, not nginx's page), unknown paths,
//! wrong methods, the probes, the explorer, a preflight; and plain requests reuse nginx's
//! connections to the servers rather than opening one each.

use super::*;

use reqwest::Method;

/// One request, sent to a server directly and through nginx.
struct Ask {
    what: &'static str,
    method: Method,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Option<String>,
}

fn post(what: &'static str, key: Option<&str>, body: String) -> Ask {
    let mut headers = vec![("content-type", "application/json".to_string())];
    if let Some(key) = key {
        headers.push(("x-api-key", key.to_string()));
    }
    Ask {
        what,
        method: Method::POST,
        path: "/graphql",
        headers,
        body: Some(body),
    }
}

fn get(what: &'static str, path: &'static str) -> Ask {
    Ask {
        what,
        method: Method::GET,
        path,
        headers: Vec::new(),
        body: None,
    }
}

/// A request body of exactly `size` bytes, a valid query padded with a variable nobody reads.
fn body_of(size: usize) -> String {
    let head = r#"{"query": "{ allTrainers { nextToken } }", "variables": {"pad": ""#;
    let tail = r#""}}"#;
    format!("{head}{}{tail}", "x".repeat(size - head.len() - tail.len()))
}

fn asks() -> Vec<Ask> {
    let simple = r#"{"query": "{ allTrainers { nextToken } }"}"#.to_string();
    let key = Some(TEST_API_KEY);
    let mut asks = vec![
        post("a query", key, simple.clone()),
        post("no key", None, simple.clone()),
        post("an unknown key", Some("da2-wrong"), simple.clone()),
        post("a body that is not JSON", key, "{not json".into()),
        post("no query", key, "{}".into()),
        post(
            "a query that does not validate",
            key,
            r#"{"query": "{ nope }"}"#.into(),
        ),
        post("a body of 1 MiB", key, body_of(1 << 20)),
        post("a body of 1 MiB and a byte", key, body_of((1 << 20) + 1)),
        get("an unknown path", "/nope"),
        get("the liveness probe", "/healthz"),
        get("the readiness probe", "/readyz"),
    ];
    let mut slash = post("an endpoint with a trailing slash", key, simple.clone());
    slash.path = "/graphql/";
    asks.push(slash);
    let mut wrong_method = get("a wrong method", "/graphql");
    wrong_method.method = Method::DELETE;
    asks.push(wrong_method);
    let mut explorer = get("the explorer", "/graphql");
    explorer.headers.push(("accept", "text/html".into()));
    asks.push(explorer);
    asks.push(Ask {
        what: "a CORS preflight",
        method: Method::OPTIONS,
        path: "/graphql",
        headers: vec![
            ("origin", "https://example.com".into()),
            ("access-control-request-method", "POST".into()),
            (
                "access-control-request-headers",
                "content-type,x-api-key".into(),
            ),
        ],
        body: None,
    });
    asks
}

/// What a client sees of an answer: the status, the headers that matter, the body.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

const COMPARED_HEADERS: [&str; 5] = [
    "x-amzn-errortype",
    "content-type",
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
];

async fn see(http: &reqwest::Client, base: &str, ask: &Ask) -> Seen {
    let mut request = http.request(ask.method.clone(), format!("{base}{}", ask.path));
    for (name, value) in &ask.headers {
        request = request.header(*name, value);
    }
    if let Some(body) = &ask.body {
        request = request.body(body.clone());
    }
    let answer = answer(request).await;
    Seen {
        status: answer.status,
        headers: COMPARED_HEADERS
            .iter()
            .map(|name| (*name, header_text(&answer.headers, name)))
            .collect(),
        body: answer.body,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn what_the_servers_answer_comes_through_nginx_unchanged() {
    let fleet = Fleet::start().await;
    let direct = format!("http://{}", fleet.servers[0].addr);
    let through = format!("http://{}", fleet.nginx.addr);
    let mut differences = Vec::new();
    for ask in asks() {
        let (server, nginx) = (
            see(&fleet.http, &direct, &ask).await,
            see(&fleet.http, &through, &ask).await,
        );
        if server != nginx {
            differences.push(format!(
                "{} ({} {}):\n  server: {server:?}\n  nginx:  {nginx:?}",
                ask.what, ask.method, ask.path
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "answers that nginx changed:\n{}",
        differences.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn plain_requests_reuse_nginxs_connections_to_the_servers() {
    let fleet = Fleet::start().await;
    let before: usize = fleet
        .accepted
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .sum();
    let requests = 60;
    for _ in 0..requests {
        fleet
            .graphql_answer("{ allTrainers { nextToken } }", json!({}))
            .await;
    }
    let opened: usize = fleet
        .accepted
        .iter()
        .map(|a| a.load(Ordering::SeqCst))
        .sum::<usize>()
        - before;
    // One connection a server, give or take: not one a request (which a `Connection: close`
    // to the servers would make).
    assert!(
        opened <= 2 * fleet.servers.len(),
        "{requests} requests through nginx opened {opened} connections to the servers"
    );
    println!("{requests} requests through nginx opened {opened} connections to the 3 servers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's nginx and redis-server, and dynalite: make test runs them (cargo test -- --include-ignored)"]
async fn a_server_that_stops_under_load_fails_no_request_through_nginx() {
    let mut fleet = Fleet::start().await;
    let stopping = fleet.servers.remove(0);
    let fleet = &fleet;
    let done = &std::sync::atomic::AtomicBool::new(false);
    // Eight writers through nginx, before, during and after the stop.
    let writer = |w: usize| async move {
        let (mut made, mut failed) = (Vec::new(), Vec::new());
        while !done.load(Ordering::SeqCst) {
            let query = format!(
                r#"mutation {{ createTrainer(firstName: "W{w}n{}", lastName: "Load", age: 30) {{ id }} }}"#,
                made.len()
            );
            let answer = fleet
                .post(Some(TEST_API_KEY), json!({ "query": query }).to_string())
                .await;
            match answer.body["data"]["createTrainer"]["id"].as_str() {
                Some(id) if answer.status == 200 => made.push(id.to_string()),
                _ => failed.push(format!(
                    "{} {} {:?}",
                    answer.status, answer.body, answer.headers
                )),
            }
        }
        (made, failed)
    };
    let load = futures::future::join_all((0..8).map(writer));
    let stop = async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        stopping.server.shut_down().await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        done.store(true, Ordering::SeqCst);
    };
    let (results, ()) = tokio::join!(load, stop);
    let failed: Vec<&String> = results.iter().flat_map(|(_, f)| f).collect();
    assert!(
        failed.is_empty(),
        "requests that failed through nginx: {failed:#?}"
    );
    let mut made: Vec<String> = results.into_iter().flat_map(|(m, _)| m).collect();

    // Every acknowledged create is stored, once.
    let mut listed = Vec::new();
    let mut token = Value::Null;
    loop {
        let page = fleet
            .graphql(
                "query($t: String) { allTrainers(limit: 100, nextToken: $t) { items { id } nextToken } }",
                json!({ "t": token }),
            )
            .await;
        let page = page.ok()["allTrainers"].clone();
        for item in page["items"].as_array().cloned().unwrap_or_default() {
            listed.push(item["id"].as_str().unwrap_or_default().to_string());
        }
        token = page["nextToken"].clone();
        if token.is_null() {
            break;
        }
    }
    made.sort();
    listed.sort();
    assert_eq!(
        listed.len(),
        made.len(),
        "every acknowledged create, and no other"
    );
    assert_eq!(listed, made);
    println!(
        "{} creates through nginx while a server stopped: every one answered and stored",
        made.len()
    );
}

//! The ceiling of HTTP on this machine: a minimal axum server that answers `POST /graphql` with
//! a fixed small JSON body, as a `getTrainer` would.

use axum::http::header;
use axum::routing::post;
use axum::Router;

const BODY: &str = r#"{"data":{"getTrainer":{"id":"01a20fd1-1b8c-7756-b75f-63c57f0e19a7","firstName":"John","lastName":"Doe","age":30}}}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = Router::new().route(
        "/graphql",
        post(|| async { ([(header::CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!(
        "fixed-response listening on http://{}/graphql",
        listener.local_addr()?
    );
    axum::serve(listener, app).await
}

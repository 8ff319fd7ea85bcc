//! The explorer page for browsers (`GET /`, and `GET /graphql` asking for HTML): GraphiQL with
//! every asset in one file (`assets/explorer.html`, built by scripts/build-explorer.sh), so it
//! works offline.

use axum::http::{header, HeaderMap};
use axum::response::Html;

/// The page, as built.
pub const HTML: &str = include_str!("../../assets/explorer.html");

pub async fn page() -> Html<&'static str> {
    Html(HTML)
}

/// Whether a request comes from a browser that wants a page.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

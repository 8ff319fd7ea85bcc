//! A real server on a random loopback port, in this process, on a store of the caller's: started
//! as `trainers serve` starts one, through [`trainers_api::Server`].

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Value};
use trainers_api::auth::local::LocalIssuer;
use trainers_api::auth::tokens::Verifier;
use trainers_api::{KeyRing, Running, Server};
use trainers_core::{TrainerService, TrainerStore};
use trainers_store_embedded::{EmbeddedStore, KeyStore};

use crate::target::{GraphqlResponse, Target};

/// The key every test server accepts.
pub const TEST_API_KEY: &str = "da2-conformancetestkey0000000";

/// The admin group of every test server with accounts on.
pub const TEST_ADMIN_GROUP: &str = "Admins";

/// The user the suites run as when they run signed in.
pub const TEST_USER: &str = "suite-user";

/// A token issuer of the tests' own (a local issuer's key in a temporary directory), as
/// `trainers serve --auth-local` and `trainers token create` use one.
pub struct TestIssuer {
    pub issuer: LocalIssuer,
    _dir: tempfile::TempDir,
}

impl Default for TestIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIssuer {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let issuer = LocalIssuer::load_or_create(dir.path()).expect("a signing key");
        TestIssuer { issuer, _dir: dir }
    }

    /// A verifier of this issuer's tokens, with [`TEST_ADMIN_GROUP`] as the admin group.
    pub fn verifier(&self) -> Verifier {
        self.issuer
            .verifier(Some(TEST_ADMIN_GROUP.to_string()))
            .expect("a verifier")
    }

    /// A token of `username`, in `groups`, valid for an hour.
    pub fn token(&self, username: &str, groups: &[&str]) -> String {
        let groups: Vec<String> = groups.iter().map(|g| g.to_string()).collect();
        self.issuer
            .token(username, &groups, std::time::Duration::from_secs(3600))
            .expect("a token")
    }

    /// The owner a trainer created with `username`'s token gets.
    pub fn owner(&self, username: &str) -> String {
        format!("{}::{username}", self.issuer.sub(username))
    }
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub keys: Arc<KeyRing>,
    /// The key store in the data directory, for tests of stored keys.
    pub data_dir: tempfile::TempDir,
    pub service: TrainerService,
    /// The server itself; it shuts down when dropped.
    pub server: Running,
    /// With accounts on: the token its requests as a [`Target`] carry instead of the API key,
    /// and the issuer that signed it.
    pub signed_in: Option<(String, Arc<TestIssuer>)>,
    /// What the store needs kept alive (its temporary directory, say).
    _store_guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl TestServer {
    /// Serves the API on `store`, accepting [`TEST_API_KEY`] and the keys in a fresh key store.
    pub async fn start(store: Arc<dyn TrainerStore>) -> TestServer {
        Self::start_with_guard(store, None).await
    }

    /// As [`TestServer::start`], keeping `guard` alive as long as the server.
    pub async fn start_with_guard(
        store: Arc<dyn TrainerStore>,
        guard: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> TestServer {
        Self::start_with(store, guard, |server| server).await
    }

    /// As [`TestServer::start_with_guard`], with the server's options set by `configure` (its
    /// limits, say).
    pub async fn start_with(
        store: Arc<dyn TrainerStore>,
        guard: Option<Box<dyn std::any::Any + Send + Sync>>,
        configure: impl FnOnce(Server) -> Server,
    ) -> TestServer {
        let data_dir = tempfile::tempdir().expect("a temporary directory");
        let key_store = KeyStore::open(data_dir.path()).expect("a key store");
        let keys = Arc::new(
            KeyRing::new(
                Some(Arc::new(key_store)),
                &[trainers_core::FixedKey::parse(TEST_API_KEY)
                    .expect("the test key is well formed")],
            )
            .await
            .expect("a key ring"),
        );
        let service = TrainerService::new(store);
        let server = configure(Server::new(service.clone(), keys.clone()))
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a loopback port")
            .spawn()
            .expect("a running server");
        TestServer {
            addr: server.addr(),
            client: reqwest::Client::new(),
            keys,
            data_dir,
            service,
            server,
            signed_in: None,
            _store_guard: guard,
        }
    }

    /// Serves the API on `store` with accounts on (owner rules, [`TEST_ADMIN_GROUP`]), trusting
    /// a fresh [`TestIssuer`]; as a [`Target`], it sends [`TEST_USER`]'s token instead of the
    /// API key, so that every case of a suite runs signed in and owns what it creates.
    pub async fn start_signed_in(
        store: Arc<dyn TrainerStore>,
        guard: Option<Box<dyn std::any::Any + Send + Sync>>,
    ) -> TestServer {
        let issuer = Arc::new(TestIssuer::new());
        let verifier = issuer.verifier();
        let mut server = Self::start_with(store, guard, |s| s.accounts(verifier)).await;
        server.signed_in = Some((issuer.token(TEST_USER, &[]), issuer));
        server
    }

    pub fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    /// Opens the server's key store (a `KeySource`), as `trainers api-key` would.
    pub fn key_store(&self) -> KeyStore {
        KeyStore::open(self.data_dir.path()).expect("the key store")
    }

    /// POSTs a raw body with an optional key; returns status and body as JSON (or a string).
    pub async fn post_raw(
        &self,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url())
            .header("content-type", "application/json")
            .body(body);
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        let resp = req.send().await.expect("the server answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn post_json(&self, key: Option<&str>, body: &Value) -> (u16, Value) {
        self.post_raw(key, body.to_string()).await
    }

    /// POSTs a JSON body with `Authorization: <token>` (and no API key).
    pub async fn post_signed_in(&self, token: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url())
            .header("authorization", token)
            .json(body)
            .send()
            .await
            .expect("the server answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[async_trait]
impl Target for TestServer {
    async fn graphql(&self, query: &str, variables: Value) -> GraphqlResponse {
        let body = json!({ "query": query, "variables": variables });
        let (status, body) = match &self.signed_in {
            Some((token, _)) => self.post_signed_in(token, &body).await,
            None => self.post_json(Some(TEST_API_KEY), &body).await,
        };
        assert_eq!(status, 200, "a GraphQL request answers 200, got {body}");
        GraphqlResponse(body)
    }
}

/// A fresh embedded store in its own temporary directory (kept alive by the returned guard).
pub fn embedded_store() -> (Arc<EmbeddedStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = EmbeddedStore::open(dir.path()).expect("an embedded store");
    (Arc::new(store), dir)
}

/// A server on a fresh embedded store.
pub async fn spawn_embedded() -> TestServer {
    let (store, dir) = embedded_store();
    TestServer::start_with_guard(store, Some(Box::new(dir))).await
}

/// A server with accounts on, on a fresh embedded store, whose requests are signed in
/// ([`TestServer::start_signed_in`]).
pub async fn spawn_embedded_signed_in() -> TestServer {
    let (store, dir) = embedded_store();
    TestServer::start_signed_in(store, Some(Box::new(dir))).await
}

//! Helpers to run the real `trainers` binary.

#![allow(dead_code)]

pub mod appsync;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const KEY: &str = "da2-clitestkey000000000000000";

pub fn trainers() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trainers"));
    cmd.env_remove("RUST_LOG").kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRAINERS_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A running `trainers serve`, with what it printed before it listened.
pub struct Server {
    pub child: Child,
    pub api: Api,
    pub banner: Vec<String>,
}

/// A client of the server's GraphQL endpoint.
#[derive(Clone)]
pub struct Api {
    pub url: String,
    pub client: reqwest::Client,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Everything a process wrote on stdout and stderr, as it comes.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<String>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn push(&self, line: &str) {
        if let Ok(mut text) = self.0.lock() {
            text.push_str(line);
            text.push('\n');
        }
    }

    /// Collects `stream`'s lines until it ends.
    pub fn collect(&self, stream: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
        let captured = self.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                captured.push(&line);
            }
        });
    }
}

/// Starts `trainers serve` with `env` set and waits until it listens; what it writes (stdout
/// and stderr) is captured.
pub async fn serve_captured(
    data_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Server, Captured) {
    let mut child = trainers()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("trainers starts");
    let captured = Captured::default();
    captured.collect(child.stderr.take().expect("stderr"));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            captured.push(&line);
            if let Some(rest) = line.strip_prefix("Trainers API listening on ") {
                return rest.trim().to_string();
            }
        }
        panic!(
            "trainers serve exited before listening: {}",
            captured.text()
        );
    })
    .await
    .expect("trainers serve listens within 20 s");
    captured.collect(lines.into_inner());
    let server = Server {
        child,
        api: Api {
            url,
            client: reqwest::Client::new(),
        },
        banner: Vec::new(),
    };
    (server, captured)
}

/// Starts `trainers serve` on a random port and waits until it listens.
pub async fn serve(data_dir: &Path, extra: &[&str]) -> Server {
    let mut child = trainers()
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("trainers starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let url = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix("Trainers API listening on ") {
                return rest.trim().to_string();
            }
            banner.push(line);
        }
        panic!("trainers serve exited before listening: {banner:?}");
    })
    .await
    .expect("trainers serve listens within 20 s");
    // Keep reading stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server {
        child,
        api: Api {
            url,
            client: reqwest::Client::new(),
        },
        banner,
    }
}

impl Api {
    pub async fn graphql(
        &self,
        key: &str,
        query: &str,
        variables: Value,
    ) -> reqwest::Result<(u16, Value)> {
        let resp = self
            .client
            .post(&self.url)
            .header("x-api-key", key)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }
}

//! `trainers`: serve the Trainers API, manage its API keys, print its schema, make its
//! DynamoDB tables, export and import its trainers, sign local tokens.

mod accounts;
mod api_keys;
mod stores;
mod transfer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trainers_api::auth::KeyRing;
use trainers_api::events::redis::{RedisEvents, RedisUrl};
use trainers_api::events::Events;
use trainers_api::http::tls;
use trainers_api::metrics::MeteredStore;
use trainers_api::realtime::Limits as RealtimeLimits;
use trainers_api::{HttpLimits, Server};
use trainers_core::{FixedKey, TrainerService};
use trainers_store_embedded::EmbeddedStore;

use accounts::{AuthArgs, TokenCommand};
use api_keys::ApiKeyCommand;
use stores::{StoreArgs, TableCommand};
use transfer::{ExportArgs, ImportArgs};

#[derive(Parser)]
#[command(
    name = "trainers",
    version,
    about = "The Trainers GraphQL API, AppSync-compatible"
)]
struct Cli {
    /// Where the embedded store and its API keys live (with --store dynamodb, API keys are in
    /// the keys table).
    #[arg(
        long,
        global = true,
        env = "TRAINERS_DATA_DIR",
        default_value = "./trainers-data"
    )]
    data_dir: PathBuf,

    /// How log lines are written: text, or one JSON object per line.
    #[arg(long, global = true, env = "TRAINERS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API over HTTP.
    Serve(Box<ServeArgs>),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print the GraphQL schema the server serves.
    Schema,
    /// Make the DynamoDB tables (for a local DynamoDB-compatible server, or AWS).
    #[command(subcommand)]
    Table(TableCommand),
    /// Make a local certificate authority and a certificate for localhost, to serve TLS.
    #[command(subcommand)]
    Tls(TlsCommand),
    /// Copy the embedded store, while it serves, to a new SQLite file.
    Backup {
        /// The file to write (it must not exist).
        file: PathBuf,
    },
    /// Replace the embedded store by a copy made by `backup` (the server must be stopped).
    Restore {
        /// The file `backup` wrote.
        file: PathBuf,
    },
    /// Write every trainer to stdout as JSON lines.
    Export(ExportArgs),
    /// Add the trainers of a JSON lines file (as `export` writes it) to the store.
    Import(ImportArgs),
    /// Sign tokens with the data directory's own key, for `serve --auth-local`.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "TRAINERS_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// An API key accepted besides the stored ones (repeatable; never expires).
    #[arg(
        long = "api-key",
        env = "TRAINERS_API_KEY",
        value_delimiter = ',',
        hide_env_values = true
    )]
    api_keys: Vec<String>,

    /// A PEM certificate (chain): serve TLS (https, wss) too, on the same port as plain HTTP.
    #[arg(long, env = "TRAINERS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TRAINERS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Share events with the other servers of a fleet through Redis (redis://HOST:PORT, or
    /// rediss:// for TLS); without it, events stay in this process.
    #[arg(long, env = "TRAINERS_EVENTS", hide_env_values = true)]
    events: Option<String>,

    /// The PEM certificate of the CA that signed Redis's (rediss://) certificate, trusted
    /// instead of the system's roots.
    #[arg(long, env = "TRAINERS_EVENTS_CA", requires = "events")]
    events_ca: Option<PathBuf>,

    /// Refuse introspection (`__schema`, `__type`), as AppSync can.
    #[arg(long, env = "TRAINERS_NO_INTROSPECTION")]
    no_introspection: bool,

    /// Serve GET /metrics on this address too (it is always at /metrics on --addr).
    #[arg(long, env = "TRAINERS_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,

    /// How long a stop (SIGTERM, Ctrl-C) may wait for requests and connections to finish.
    #[arg(long, env = "TRAINERS_SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,

    #[command(flatten)]
    store: StoreArgs,

    #[command(flatten)]
    auth: AuthArgs,
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Write a local CA (ca.pem: the file to trust) and a certificate it signs for localhost,
    /// 127.0.0.1 and ::1 (cert.pem, key.pem: for serve --tls-cert and --tls-key).
    Create {
        /// Where to write them (default: <data-dir>/tls).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines are written by a background thread, off the request path; none is dropped.
    let (log_writer, _log_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(log_writer);
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        match cli.log_format {
            LogFormat::Text => logs.finish().with(others_at_most_debug()).init(),
            LogFormat::Json => logs.json().finish().with(others_at_most_debug()).init(),
        }
    }
    let result = match cli.command {
        Command::Serve(args) => block_on(serve(&cli.data_dir, *args)),
        Command::ApiKey(cmd) => block_on(api_keys::api_key_command(&cli.data_dir, cmd)),
        Command::Schema => {
            print!("{}", trainers_api::sdl());
            Ok(())
        }
        Command::Table(cmd) => block_on(stores::table(cmd)),
        Command::Tls(TlsCommand::Create { dir }) => {
            tls_create(&dir.unwrap_or(cli.data_dir.join("tls")))
        }
        Command::Backup { file } => EmbeddedStore::backup(&cli.data_dir, &file)
            .map(|()| eprintln!("backed up {} to {}", cli.data_dir.display(), file.display()))
            .map_err(anyhow::Error::from),
        Command::Restore { file } => EmbeddedStore::restore(&cli.data_dir, &file)
            .map(|()| {
                eprintln!(
                    "restored {} from {}",
                    cli.data_dir.display(),
                    file.display()
                )
            })
            .map_err(anyhow::Error::from),
        Command::Export(args) => block_on(transfer::export(args, &cli.data_dir)),
        Command::Import(args) => block_on(transfer::import(args, &cli.data_dir)),
        Command::Token(cmd) => accounts::token_command(&cli.data_dir, cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trainers: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Other crates log at most at debug level, whatever RUST_LOG asks: at trace, the WebSocket
/// library logs every message it reads (an AppSync `start` with its API key).
fn others_at_most_debug(
) -> tracing_subscriber::filter::FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    tracing_subscriber::filter::filter_fn(|meta: &tracing::Metadata<'_>| {
        meta.target().starts_with("trainers") || *meta.level() <= tracing::Level::DEBUG
    })
}

/// An error and its causes on one line, as `{:#}` writes them, less the causes whose text is
/// there already: several errors (the key store's, the embedded store's, the AWS SDK's) put
/// their source's message in their own.
fn one_line(error: &anyhow::Error) -> String {
    trainers_core::error_chain(error.as_ref())
}

/// Runs a command that needs the async runtime.
fn block_on(command: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Runtime::new()
        .context("cannot start")?
        .block_on(command)
}

/// Opens the store and the address first, so that a start that fails makes nothing (not even
/// the first API key).
async fn serve(data_dir: &Path, args: ServeArgs) -> anyhow::Result<()> {
    // Read before anything is made: a bad certificate fails the start cleanly.
    // An empty or malformed key would open the API (an empty one matches an empty header).
    let fixed_keys = FixedKey::parse_all(&args.api_keys).map_err(|(n, e)| {
        anyhow::anyhow!(
            "--api-key (TRAINERS_API_KEY): key {n} of {} is refused: {e}",
            args.api_keys.len()
        )
    })?;
    let (tls_cert, tls_key) = (args.tls_cert.clone(), args.tls_key.clone());
    if let (Some(cert), Some(key)) = (&tls_cert, &tls_key) {
        tls::server_config(cert, key)?;
    }
    // A URL or CA that cannot be used stops the start before anything is made.
    let events = match &args.events {
        None => Events::local(),
        Some(url) => {
            let redis = RedisEvents::start_with(&RedisUrl::new(url), args.events_ca.as_deref())?;
            Events {
                sink: redis.clone(),
                source: redis,
            }
        }
    };
    let (http_limits, realtime_limits) = connection_caps();
    let (store, key_source) = args.store.open_serving(data_dir).await?;
    // After the store: the embedded store makes the data directory, where --auth-local's key is.
    let accounts = args.auth.accounts(data_dir).await?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    api_keys::make_first_key(key_source.as_ref(), &fixed_keys).await?;
    let ring = Arc::new(KeyRing::new(Some(key_source), &fixed_keys).await?);
    ring.spawn_refresh(Duration::from_secs(1));
    let service = TrainerService::new(Arc::new(MeteredStore(store)));
    let mut server = Server::new(service.clone(), ring)
        .http_limits(http_limits)
        .realtime_limits(realtime_limits)
        .introspection(!args.no_introspection)
        .events(events)
        .shutdown_timeout(args.shutdown_timeout);
    if let (Some(cert), Some(key)) = (&tls_cert, &tls_key) {
        server = server.tls(tls::server_config(cert, key)?);
    }
    if let Some(accounts) = accounts {
        server = server.accounts(accounts.verifier);
        if let Some(jwks) = accounts.jwks {
            server = server.jwks(jwks);
        }
    }
    if let Some(addr) = args.metrics_addr {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} for metrics"))?;
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(trainers_api::http::health::metrics_text),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    let server = server.bind_listener(listener)?;
    let local = server.local_addr()?;
    println!("Trainers API listening on http://{local}/graphql");
    if tls_cert.is_some() {
        println!(
            "Also https://{local}/graphql and wss://{local}/graphql/realtime on the same port"
        );
    }
    server.serve(shutdown()).await;
    service
        .close()
        .await
        .context("the store did not close cleanly")?;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the open-file limit as far as it goes, and sets the caps on connections under it, so
/// that the caps, not the OS, bound how many clients are served: half the files for HTTP
/// connections, half for WebSockets, less a margin for the store and logs.
fn connection_caps() -> (HttpLimits, RealtimeLimits) {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let half = usize::try_from(files / 2).unwrap_or(usize::MAX);
    let http = HttpLimits::default();
    let realtime = RealtimeLimits::default();
    (
        HttpLimits {
            max_connections: http.max_connections.min(half.saturating_sub(64).max(16)),
            ..http
        },
        RealtimeLimits {
            max_connections: realtime
                .max_connections
                .min(half.saturating_sub(64).max(16)),
            ..realtime
        },
    )
}

/// `trainers tls create`.
fn tls_create(dir: &Path) -> anyhow::Result<()> {
    let files = tls::create_local(dir)?;
    println!(
        "A local CA and a certificate for {} are in {}:",
        tls::LOCAL_NAMES.join(", "),
        dir.display()
    );
    println!(
        "  serve with:   trainers serve --tls-cert {} --tls-key {}",
        files.cert.display(),
        files.key.display()
    );
    println!(
        "  trust in Node: NODE_EXTRA_CA_CERTS={}",
        files.ca.display()
    );
    println!(
        "  trust in browsers (Debian/Ubuntu): sudo cp {} /usr/local/share/ca-certificates/trainers-local-ca.crt && sudo update-ca-certificates",
        files.ca.display()
    );
    println!(
        "  Chrome/Chromium on Linux: mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n trainers-local-ca -i {}",
        files.ca.display()
    );
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return ctrl_c.await.unwrap_or(()),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

//! `trainers`: serve the Trainers API, manage its API keys, print its schema, make its
//! DynamoDB table, export and import its trainers.

mod stores;
mod transfer;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use trainers_api::keys::{self, KeyRing, KeyStore};
use trainers_core::TrainerService;

use stores::{StoreArgs, TableCommand};
use transfer::{ExportArgs, ImportArgs};

#[derive(Parser)]
#[command(
    name = "trainers",
    version,
    about = "The Trainers GraphQL API, AppSync-compatible"
)]
struct Cli {
    /// Where the embedded store and the API keys live.
    #[arg(
        long,
        global = true,
        env = "TRAINERS_DATA_DIR",
        default_value = "./trainers-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API over HTTP.
    Serve(ServeArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Print the GraphQL schema the server serves.
    Schema,
    /// Make the DynamoDB table (for a local DynamoDB-compatible server, or AWS).
    #[command(subcommand)]
    Table(TableCommand),
    /// Write every trainer to stdout as JSON lines.
    Export(ExportArgs),
    /// Add the trainers of a JSON lines file (as `export` writes it) to the store.
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "TRAINERS_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,

    /// An API key accepted besides the stored ones (repeatable; never expires).
    #[arg(long = "api-key", env = "TRAINERS_API_KEY", value_delimiter = ',')]
    api_keys: Vec<String>,

    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Make a new key and print it, once.
    Create {
        /// How long the key is valid: 1d to 365d (e.g. 7d, 36h).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        expires_in: Duration,
        /// What the key is for.
        #[arg(long)]
        description: Option<String>,
    },
    /// Show the keys: id, description, expiry (never the key itself).
    List,
    /// Revoke a key by its id.
    Revoke { id: String },
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Log lines are written by a background thread, off the request path; none is dropped.
    let (log_writer, _log_guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(log_writer)
        .init();
    let result = match cli.command {
        Command::Serve(args) => block_on(serve(&cli.data_dir, args)),
        Command::ApiKey(cmd) => api_key(&cli.data_dir, cmd),
        Command::Schema => {
            print!("{}", trainers_api::sdl());
            Ok(())
        }
        Command::Table(cmd) => block_on(stores::table(cmd)),
        Command::Export(args) => block_on(transfer::export(args, &cli.data_dir)),
        Command::Import(args) => block_on(transfer::import(args, &cli.data_dir)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trainers: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, as `{:#}` writes them, less the causes whose text is
/// there already: several errors (the key store's, the embedded store's, the AWS SDK's) put
/// their source's message in their own.
fn one_line(error: &anyhow::Error) -> String {
    trainers_core::error_chain(error.as_ref())
}

fn api_key(data_dir: &Path, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    let store = KeyStore::open(data_dir)?;
    match cmd {
        ApiKeyCommand::Create {
            expires_in,
            description,
        } => {
            let key = store.create(expires_in, description)?;
            println!("{}", key.secret);
            eprintln!(
                "id {}, expires {}. This is the only time the key is shown.",
                key.info.id,
                key.info.expires_at.to_rfc3339()
            );
        }
        ApiKeyCommand::List => {
            println!("{:<18} {:<26} {:<8} DESCRIPTION", "ID", "EXPIRES", "STATE");
            let now = trainers_core::Timestamp::now();
            for k in store.list()? {
                let state = if k.revoked {
                    "revoked"
                } else if k.expires_at <= now {
                    "expired"
                } else {
                    "active"
                };
                println!(
                    "{:<18} {:<26} {:<8} {}",
                    k.id,
                    k.expires_at.to_rfc3339(),
                    state,
                    k.description.unwrap_or_default()
                );
            }
        }
        ApiKeyCommand::Revoke { id } => {
            if !store.revoke(&id)? {
                bail!("no API key with id {id}");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
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
    let store = args.store.open(data_dir).await?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let key_store = KeyStore::open(data_dir)?;
    if args.api_keys.is_empty() && key_store.is_empty()? {
        let key = key_store.create(
            keys::DEFAULT_EXPIRY,
            Some("made by the first `trainers serve`".into()),
        )?;
        println!(
            "No API key existed, so one was made (shown only now; it expires {}):\n  x-api-key: {}",
            key.info.expires_at.to_rfc3339(),
            key.secret
        );
    }
    let ring = Arc::new(KeyRing::new(Some(key_store), &args.api_keys)?);
    ring.spawn_refresh(Duration::from_secs(1));
    let local = listener
        .local_addr()
        .context("cannot read the address listened on")?;
    println!("Trainers API listening on http://{local}/graphql");
    axum::serve(
        listener,
        trainers_api::router(TrainerService::new(store), ring),
    )
    .with_graceful_shutdown(shutdown())
    .await
    .context("server stopped")
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

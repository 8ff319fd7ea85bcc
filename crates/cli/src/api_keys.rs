//! `trainers api-key create|list|revoke`, on the key source of the store given (the data
//! directory's for the embedded store, the keys table for DynamoDB), and the first key that
//! `trainers serve` makes when none exists.

use std::path::Path;
use std::time::Duration;

use trainers_core::keys::{expiry_after, FixedKey, KeySource, DEFAULT_EXPIRY};
use trainers_core::Timestamp;

use crate::stores::StoreArgs;

#[derive(clap::Subcommand)]
pub enum ApiKeyCommand {
    /// Make a new key and print it, once.
    Create {
        /// How long the key is valid: 1d to 365d (e.g. 7d, 36h).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        expires_in: Duration,
        /// What the key is for.
        #[arg(long)]
        description: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show the keys: id, description, expiry (never the key itself).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its id.
    Revoke {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub async fn api_key_command(data_dir: &Path, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCommand::Create {
            expires_in,
            description,
            store,
        } => {
            // The bounds first: a wrong --expires-in needs no store.
            let expires_at = expiry_after(expires_in)?;
            let keys = store.open_keys(data_dir).await?;
            let key = keys.create(expires_at, description).await?;
            println!("{}", key.secret);
            eprintln!(
                "id {}, expires {}. This is the only time the key is shown.",
                key.info.id,
                key.info.expires_at.to_rfc3339()
            );
        }
        ApiKeyCommand::List { store } => {
            let keys = store.open_keys(data_dir).await?;
            let listed = keys.list().await?;
            println!("{:<18} {:<26} {:<8} DESCRIPTION", "ID", "EXPIRES", "STATE");
            let now = Timestamp::now();
            for k in listed {
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
        ApiKeyCommand::Revoke { id, store } => {
            let keys = store.open_keys(data_dir).await?;
            if !keys.revoke(&id).await? {
                anyhow::bail!("no API key with id {id}");
            }
            eprintln!("revoked {id}");
        }
    }
    Ok(())
}

/// Without `--api-key`, a server whose key source has no key makes one and prints it, once. Of
/// servers starting together on one source, one makes it (see `KeySource::create_first`).
pub async fn make_first_key(keys: &dyn KeySource, fixed: &[FixedKey]) -> anyhow::Result<()> {
    if !fixed.is_empty() {
        return Ok(());
    }
    let expires_at = expiry_after(DEFAULT_EXPIRY)?;
    let made = keys
        .create_first(
            expires_at,
            Some("made by the first `trainers serve`".into()),
        )
        .await?;
    if let Some(key) = made {
        println!(
            "No API key existed, so one was made (shown only now; it expires {}):\n  x-api-key: {}",
            key.info.expires_at.to_rfc3339(),
            key.secret
        );
    }
    Ok(())
}

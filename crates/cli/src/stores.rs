//! Which store the command works on (embedded or DynamoDB), and `trainers table create`.

use std::path::Path;

use anyhow::Context;
use std::sync::Arc;

use trainers_core::{KeySource, TokenSecret, TrainerStore};
use trainers_store_dynamodb::{
    add_missing_indexes, client_from_env, create_keys_table, create_table, exists_already,
    keys_table_name, token_key_from_secret, wait_until_active, DynamoKeys, DynamoStore,
    DEFAULT_TABLE, TOKEN_SECRET_ENV,
};
use trainers_store_embedded::{EmbeddedStore, KeyStore};

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// SQLite in the data directory.
    Embedded,
    /// A DynamoDB table (credentials and region from the standard AWS chain).
    Dynamodb,
}

#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// Where the trainers are kept.
    #[arg(long, env = "TRAINERS_STORE", value_enum, default_value = "embedded")]
    pub store: StoreKind,

    #[command(flatten)]
    pub dynamodb: DynamoArgs,
}

#[derive(clap::Args, Clone)]
pub struct DynamoArgs {
    /// The DynamoDB table (with --store dynamodb).
    #[arg(long, env = "TRAINERS_TABLE", default_value = DEFAULT_TABLE)]
    pub table: String,

    /// A DynamoDB-compatible endpoint instead of AWS's, e.g. http://127.0.0.1:4567.
    #[arg(long, env = "TRAINERS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// The table of API keys and of the page-token secret (with --store dynamodb; default:
    /// the table's name and `-keys`).
    #[arg(long, env = "TRAINERS_KEYS_TABLE")]
    pub keys_table: Option<String>,

    /// The secret that signs page tokens, instead of the random one kept in the keys table
    /// (servers sharing a table must then all be given it). At least 32 bytes.
    #[arg(long, env = TOKEN_SECRET_ENV, hide_env_values = true)]
    pub token_secret: Option<String>,
}

/// Never shows the page-token secret.
impl std::fmt::Debug for DynamoArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoArgs")
            .field("table", &self.table)
            .field("endpoint_url", &self.endpoint_url)
            .field("keys_table", &self.keys_table)
            .field(
                "token_secret",
                &self.token_secret.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl DynamoArgs {
    pub async fn open(&self) -> anyhow::Result<DynamoStore> {
        let secret = self.token_secret()?;
        let client = client_from_env(self.endpoint_url.as_deref()).await?;
        let secret = secret.as_ref().map(TokenSecret::expose);
        Ok(DynamoStore::open(client, self.table.clone(), secret).await?)
    }

    /// `--token-secret`, parsed: a short one is refused in one line, which never shows it.
    pub fn token_secret(&self) -> anyhow::Result<Option<TokenSecret>> {
        match self.token_secret.as_deref() {
            None => Ok(None),
            Some(value) => TokenSecret::parse(value).map_err(|e| {
                anyhow::anyhow!("--token-secret ({TOKEN_SECRET_ENV}) is refused: {e}")
            }),
        }
    }
}

impl DynamoArgs {
    /// The keys table: `--keys-table`, or the table's name and `-keys`.
    pub fn keys_table(&self) -> String {
        self.keys_table
            .clone()
            .unwrap_or_else(|| keys_table_name(&self.table))
    }

    /// The keys of the keys table (which must exist).
    pub async fn open_keys(&self) -> anyhow::Result<DynamoKeys> {
        let client = client_from_env(self.endpoint_url.as_deref()).await?;
        Ok(DynamoKeys::open(client, self.keys_table()).await?)
    }

    /// The store and the keys a server serves: both tables checked (the trainers table first),
    /// page tokens signed with `--token-secret` or else the secret of the keys table (made
    /// there by the first server to start).
    pub async fn open_serving(
        &self,
        secret: Option<&TokenSecret>,
    ) -> anyhow::Result<(DynamoStore, DynamoKeys)> {
        let client = client_from_env(self.endpoint_url.as_deref()).await?;
        wait_until_active(&client, &self.table).await?;
        let keys = DynamoKeys::open(client.clone(), self.keys_table()).await?;
        let token_key = match secret {
            Some(secret) => token_key_from_secret(secret.expose()),
            None => keys.page_token_key().await.with_context(|| {
                format!("cannot read the page-token secret of {}", keys.table())
            })?,
        };
        let store = DynamoStore::with_token_key(client, self.table.clone(), token_key);
        Ok((store, keys))
    }
}

impl StoreArgs {
    /// Where the API keys are: the data directory's key store, or the DynamoDB keys table.
    pub async fn open_keys(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn KeySource>> {
        Ok(match self.store {
            StoreKind::Embedded => Arc::new(KeyStore::open(data_dir)?),
            StoreKind::Dynamodb => Arc::new(self.dynamodb.open_keys().await?),
        })
    }

    /// The store and the key source of `trainers serve`. `--token-secret` is checked first,
    /// whichever the store (the embedded store keeps its own secret and does not use it): a
    /// short one stops the start before anything is opened.
    pub async fn open_serving(
        &self,
        data_dir: &Path,
    ) -> anyhow::Result<(Arc<dyn TrainerStore>, Arc<dyn KeySource>)> {
        let secret = self.dynamodb.token_secret()?;
        Ok(match self.store {
            StoreKind::Embedded => (
                Arc::new(EmbeddedStore::open_with(data_dir, durability())?),
                Arc::new(KeyStore::open(data_dir)?),
            ),
            StoreKind::Dynamodb => {
                let (store, keys) = self.dynamodb.open_serving(secret.as_ref()).await?;
                (Arc::new(store), Arc::new(keys))
            }
        })
    }

    pub async fn open(&self, data_dir: &Path) -> anyhow::Result<Arc<dyn TrainerStore>> {
        Ok(match self.store {
            StoreKind::Embedded => Arc::new(EmbeddedStore::open(data_dir)?),
            StoreKind::Dynamodb => Arc::new(self.dynamodb.open().await?),
        })
    }

    /// What `open` opens, for messages.
    pub fn describe(&self, data_dir: &Path) -> String {
        match self.store {
            StoreKind::Embedded => format!("the embedded store in {}", data_dir.display()),
            StoreKind::Dynamodb => format!("the DynamoDB table {}", self.dynamodb.table),
        }
    }
}

#[derive(clap::Subcommand)]
pub enum TableCommand {
    /// Make the DynamoDB table and its indexes, and the table of API keys beside it (on-demand
    /// billing), and wait until they are ACTIVE. One that exists already is left as it is, but
    /// for what an older version did not make (the keys table, an index); both complete is an
    /// error.
    Create {
        #[arg(long, env = "TRAINERS_TABLE", default_value = DEFAULT_TABLE)]
        table: String,
        /// The table of API keys and of the page-token secret (default: the table's name and
        /// `-keys`).
        #[arg(long, env = "TRAINERS_KEYS_TABLE")]
        keys_table: Option<String>,
        /// A DynamoDB-compatible endpoint instead of AWS's, e.g. http://127.0.0.1:4567.
        #[arg(long, env = "TRAINERS_ENDPOINT_URL")]
        endpoint_url: Option<String>,
    },
}

pub async fn table(cmd: TableCommand) -> anyhow::Result<()> {
    match cmd {
        TableCommand::Create {
            table,
            keys_table,
            endpoint_url,
        } => {
            let client = client_from_env(endpoint_url.as_deref()).await?;
            let keys_table = keys_table.unwrap_or_else(|| keys_table_name(&table));
            create_tables(&client, &table, &keys_table).await
        }
    }
}

/// Makes the trainers table and the keys table. One that exists already is left as it is (a
/// table made before keys were kept in DynamoDB gets its keys table); both existing is an error.
async fn create_tables(
    client: &trainers_store_dynamodb::Client,
    table: &str,
    keys_table: &str,
) -> anyhow::Result<()> {
    let trainers = match create_table(client, table).await {
        Ok(()) => true,
        Err(e) if exists_already(&e) => {
            // A table made by an older version: it gets the indexes it lacks.
            let added = add_missing_indexes(client, table).await?;
            if !added.is_empty() {
                eprintln!(
                    "the DynamoDB table {table} exists already; added its index {}; it is ACTIVE",
                    added.join(", ")
                );
                return create_keys_table(client, keys_table)
                    .await
                    .or_else(|e| if exists_already(&e) { Ok(()) } else { Err(e) })
                    .map_err(Into::into);
            }
            false
        }
        Err(e) => return Err(e.into()),
    };
    let keys = match create_keys_table(client, keys_table).await {
        Ok(()) => true,
        Err(e) if exists_already(&e) => false,
        Err(e) => return Err(e.into()),
    };
    match (trainers, keys) {
        (true, true) => {
            eprintln!("created the DynamoDB tables {table} and {keys_table} (API keys); they are ACTIVE")
        }
        (true, false) => eprintln!(
            "created the DynamoDB table {table}; it is ACTIVE ({keys_table}, for API keys, exists already)"
        ),
        (false, true) => eprintln!(
            "the DynamoDB table {table} exists already; created {keys_table} (API keys); it is ACTIVE"
        ),
        (false, false) => {
            anyhow::bail!("the DynamoDB table {table} exists already, and {keys_table} too")
        }
    }
    Ok(())
}

/// The environment variable that turns the embedded store's syncs off: the load benchmark's
/// reference for what durability costs, never a setting for data anyone keeps.
pub const UNSAFE_NO_SYNC_ENV: &str = "TRAINERS_UNSAFE_NO_SYNC";

/// Synced, unless `TRAINERS_UNSAFE_NO_SYNC=1` (said loudly in the log).
fn durability() -> trainers_store_embedded::Durability {
    if std::env::var(UNSAFE_NO_SYNC_ENV).is_ok_and(|v| v == "1") {
        tracing::warn!(
            "{UNSAFE_NO_SYNC_ENV}=1: writes are not synced; a crash loses acknowledged writes (a benchmark's reference only)"
        );
        trainers_store_embedded::Durability::Unsynced
    } else {
        trainers_store_embedded::Durability::Synced
    }
}

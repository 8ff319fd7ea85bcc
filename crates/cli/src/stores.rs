//! Which store the command works on (embedded or DynamoDB), and `trainers table create`.

use std::path::Path;
use std::sync::Arc;

use trainers_core::TrainerStore;
use trainers_store_dynamodb::{
    client_from_env, create_table, DynamoStore, DEFAULT_TABLE, TOKEN_SECRET_ENV,
};
use trainers_store_embedded::EmbeddedStore;

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

#[derive(clap::Args, Clone, Debug)]
pub struct DynamoArgs {
    /// The DynamoDB table (with --store dynamodb).
    #[arg(long, env = "TRAINERS_TABLE", default_value = DEFAULT_TABLE)]
    pub table: String,

    /// A DynamoDB-compatible endpoint instead of AWS's, e.g. http://127.0.0.1:4567.
    #[arg(long, env = "TRAINERS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,

    /// The secret that signs page tokens; servers sharing a table must share it
    /// (default: derived from the table name).
    #[arg(long, env = TOKEN_SECRET_ENV, hide_env_values = true)]
    pub token_secret: Option<String>,
}

impl DynamoArgs {
    pub async fn open(&self) -> anyhow::Result<DynamoStore> {
        let client = client_from_env(self.endpoint_url.as_deref()).await?;
        Ok(DynamoStore::open(client, self.table.clone(), self.token_secret.as_deref()).await?)
    }
}

impl StoreArgs {
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
    /// Make the DynamoDB table and its index (on-demand billing) and wait until it is ACTIVE.
    Create {
        #[arg(long, env = "TRAINERS_TABLE", default_value = DEFAULT_TABLE)]
        table: String,
        /// A DynamoDB-compatible endpoint instead of AWS's, e.g. http://127.0.0.1:4567.
        #[arg(long, env = "TRAINERS_ENDPOINT_URL")]
        endpoint_url: Option<String>,
    },
}

pub async fn table(cmd: TableCommand) -> anyhow::Result<()> {
    match cmd {
        TableCommand::Create {
            table,
            endpoint_url,
        } => {
            let client = client_from_env(endpoint_url.as_deref()).await?;
            create_table(&client, &table).await?;
            eprintln!("created the DynamoDB table {table}; it is ACTIVE");
            Ok(())
        }
    }
}

//! Accounts (contract section 11): `serve`'s `--auth-*` options, which build the token verifier,
//! and `trainers token create`, which signs a token with the data directory's own issuer.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use trainers_api::auth::local::LocalIssuer;
use trainers_api::auth::tokens::{AuthSettings, Verifier};

/// How often a server that has never fetched its issuer's keys tries again.
const RETRY_KEYS: Duration = Duration::from_secs(10);
/// How often the issuer's keys are refetched once they were (keys added or dropped).
const REFRESH_KEYS: Duration = Duration::from_secs(15 * 60);

/// Who may sign in. Without any of these, accounts are off: the API key does everything.
#[derive(clap::Args)]
pub struct AuthArgs {
    /// Accounts with an OpenID Connect issuer: the tokens' `iss`, exactly (a Cognito user pool:
    /// https://cognito-idp.REGION.amazonaws.com/POOL_ID).
    #[arg(
        long,
        env = "TRAINERS_AUTH_ISSUER",
        conflicts_with = "auth_local",
        requires = "auth_client_ids"
    )]
    auth_issuer: Option<String>,

    /// An app client id tokens must be issued to (repeatable, or comma-separated).
    #[arg(
        long = "auth-client-id",
        env = "TRAINERS_AUTH_CLIENT_ID",
        value_delimiter = ',',
        requires = "auth_issuer"
    )]
    auth_client_ids: Vec<String>,

    /// Where the issuer's signing keys are (default: ISSUER/.well-known/jwks.json).
    #[arg(long, env = "TRAINERS_AUTH_JWKS_URL", requires = "auth_issuer")]
    auth_jwks_url: Option<String>,

    /// Accounts with nothing to install: trust the tokens `trainers token create` signs with
    /// this data directory's key (its JWKS is served at /.well-known/jwks.json).
    #[arg(long, env = "TRAINERS_AUTH_LOCAL")]
    auth_local: bool,

    /// Members of this group (cognito:groups) may change every trainer.
    #[arg(long, env = "TRAINERS_ADMIN_GROUP")]
    admin_group: Option<String>,
}

/// The accounts a server runs with: its verifier, and the JWKS it serves (local issuer only).
pub struct Accounts {
    pub verifier: Verifier,
    pub jwks: Option<String>,
}

impl AuthArgs {
    /// `None` when no option turns accounts on. Settings that cannot work stop the start; an
    /// issuer that does not answer does not: the server starts, `/readyz` answers 503 until its
    /// keys are fetched (retried every 10 s, then refetched every 15 minutes).
    pub async fn accounts(&self, data_dir: &Path) -> anyhow::Result<Option<Accounts>> {
        let admin_group = self.admin_group.clone().filter(|g| !g.is_empty());
        if self.auth_local {
            let issuer = local_issuer(data_dir)?;
            let verifier = issuer
                .verifier(admin_group)
                .context("--auth-local: the local issuer's key is not usable")?;
            tracing::info!(
                kid = issuer.kid(),
                "accounts on: tokens of this data directory's issuer"
            );
            return Ok(Some(Accounts {
                verifier,
                jwks: Some(issuer.jwks()),
            }));
        }
        let Some(issuer) = &self.auth_issuer else {
            if self.admin_group.is_some() {
                anyhow::bail!("--admin-group needs accounts: --auth-issuer or --auth-local");
            }
            return Ok(None);
        };
        let settings = AuthSettings {
            issuer: issuer.clone(),
            client_ids: self.auth_client_ids.clone(),
            jwks_url: self.auth_jwks_url.clone(),
            admin_group,
        };
        let jwks_url = settings.jwks_url();
        let verifier = Verifier::new(settings).context("--auth-issuer")?;
        match verifier.refresh().await {
            Ok(keys) => {
                tracing::info!(%issuer, %jwks_url, keys, "accounts on: the issuer's keys fetched")
            }
            Err(e) => tracing::warn!(
                %issuer, %jwks_url, error = %e,
                "accounts on, but the issuer's keys cannot be fetched yet: not ready until they are"
            ),
        }
        verifier.spawn_refresh(RETRY_KEYS, REFRESH_KEYS);
        Ok(Some(Accounts {
            verifier,
            jwks: None,
        }))
    }
}

/// `trainers token create`.
#[derive(clap::Args)]
pub struct TokenCreateArgs {
    /// Who the token names (its username; its sub is derived from it and the key).
    #[arg(long)]
    username: String,

    /// A group the user is in (repeatable), e.g. the server's --admin-group.
    #[arg(long = "group")]
    groups: Vec<String>,

    /// How long the token is valid (at most 30 days).
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    expires_in: Duration,
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Print a token signed with the data directory's own key, which `serve --auth-local`
    /// trusts.
    Create(TokenCreateArgs),
}

pub fn token_command(data_dir: &Path, command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create(args) = command;
    let issuer = local_issuer(data_dir)?;
    let token = issuer
        .token(&args.username, &args.groups, args.expires_in)
        .context("cannot make the token")?;
    println!("{token}");
    Ok(())
}

/// The data directory's issuer, the directory made (0700) if there is none yet.
fn local_issuer(data_dir: &Path) -> anyhow::Result<LocalIssuer> {
    if !data_dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(data_dir)
            .with_context(|| format!("cannot make the data directory {}", data_dir.display()))?;
    }
    LocalIssuer::load_or_create(data_dir).context("the data directory's token issuer")
}

//! DynamoDB clients: HTTPS by rustls on ring, the SDK's standard retry.

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, ProvideCredentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder;
use trainers_core::StoreError;

/// Attempts per request, the first included. The SDK's standard retry backs off exponentially,
/// with jitter, on throttling, 5xx answers and transient faults (timeouts, dropped connections);
/// any other error fails the request at once.
pub const MAX_ATTEMPTS: u32 = 5;

/// The region of local DynamoDB-compatible servers, which accept any.
pub const LOCAL_REGION: &str = "us-east-1";

fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

fn retry() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// How long one attempt, and one request with all its retries, may take: a DynamoDB that stalls
/// (a connection accepted and never answered) costs a request at most [`OPERATION_TIMEOUT`].
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(5);

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// A client configured by the standard AWS chain: credentials and region from the environment,
/// the shared config files (static keys, assumed roles), web identity, ECS or EC2 roles.
/// SSO profiles and `credential_process` are not supported (the SDK features are left out).
///
/// With `endpoint_url` (a DynamoDB-compatible server), credentials and region come from the
/// environment or the config files only, with no EC2 or ECS metadata lookups; the region
/// defaults to [`LOCAL_REGION`] and, without credentials, dummy ones are used (local servers
/// accept any).
pub async fn client_from_env(endpoint_url: Option<&str>) -> Result<Client, StoreError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .retry_config(retry())
        .timeout_config(timeouts());
    if let Some(url) = endpoint_url {
        // Providers made outside the loader need its HTTP client: without the SDK's default
        // one, a provider made with none (`RegionProviderChain::default_provider()`) panics.
        let files = ProviderConfig::default().with_http_client(https_client());
        loader = loader
            .endpoint_url(url)
            .region(
                RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
                    .or_else(
                        ProfileFileRegionProvider::builder()
                            .configure(&files)
                            .build(),
                    )
                    .or_else(LOCAL_REGION),
            )
            .credentials_provider(
                CredentialsProviderChain::first_try(
                    "Environment",
                    EnvironmentVariableCredentialsProvider::new(),
                )
                .or_else(
                    "Profile",
                    ProfileFileCredentialsProvider::builder()
                        .configure(&files)
                        .build(),
                ),
            );
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(StoreError::backend_msg(
            "no AWS region: set AWS_REGION or a region in the AWS config file",
        ));
    }
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&config);
    if endpoint_url.is_some() && !has_credentials(&config).await {
        builder = builder.credentials_provider(dummy_credentials());
    }
    Ok(Client::from_conf(builder.build()))
}

async fn has_credentials(config: &aws_config::SdkConfig) -> bool {
    match config.credentials_provider() {
        Some(provider) => provider.provide_credentials().await.is_ok(),
        None => false,
    }
}

fn dummy_credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "trainers-local")
}

/// A client for a local DynamoDB-compatible server (dynalite, moto, DynamoDB Local), as the
/// tests use: dummy credentials, region [`LOCAL_REGION`], nothing read from the environment.
pub fn local_client(endpoint_url: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::from_static(LOCAL_REGION))
        .credentials_provider(dummy_credentials())
        .endpoint_url(endpoint_url)
        .http_client(https_client())
        .retry_config(retry())
        .timeout_config(timeouts())
        .build();
    Client::from_conf(config)
}

//! Events across servers, through Redis pub/sub (`trainers serve --events redis://HOST:PORT`,
//! or `rediss://` for TLS, with `--events-ca` for a private CA).
//!
//! Each server publishes the events of its mutations to one channel and delivers to its own
//! subscribers what it reads from that channel, its own events included: every server's
//! subscribers hear every server's mutations, each once, in the order Redis received them (for a
//! trainer, its commit order: a mutation's event is handed on as it answers, before a client can
//! send the next one).
//!
//! What the channel holds is not trusted: anyone who can publish to it could otherwise reach
//! every subscriber. A message over [`MAX_EVENT_BYTES`](super::MAX_EVENT_BYTES) is dropped
//! unread, and an event is delivered only if it passes the rules a mutation's input passes
//! ([`TrainerEvent::from_wire`]); a refused one is counted (`trainers_events_refused_total`) and
//! logged without its content. The channel is read by this crate's own bounded RESP reader
//! (`resp`), which skips an oversized message as it streams in, never holding it: the Redis
//! client reads a message whole, whatever its size, before it can be looked at, so it only
//! publishes.
//!
//! Mutations never wait for Redis: an event goes into a bounded queue that one task publishes
//! from. When Redis cannot be reached, events are still delivered to this server's subscribers,
//! their loss to the others is logged and counted (`trainers_events_lost_total`), `/readyz` says
//! so, and both connections are made again by themselves.
//!
//! The URL's password is never shown: logs and errors print [`RedisUrl`]'s redacted form.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;

use super::{resp, EventSink, EventSource, LocalEvents, Refused, TrainerEvent};

/// The Redis channel the events go through.
pub const CHANNEL: &str = "trainers:events";
/// Events waiting to be published before more are counted lost.
const QUEUE: usize = 4096;
/// How long a connection, or one publish, may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The wait before connecting again.
const RETRY: Duration = Duration::from_millis(500);

/// A Redis URL as given (`--events`). It prints, in `Display` and `Debug` alike, only its
/// [`redacted`] form: no log line or error can show its password.
#[derive(Clone)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn new(url: impl Into<String>) -> Self {
        RedisUrl(url.into())
    }

    /// The URL with its password (and any query, where `redis+unix` URLs keep theirs) hidden.
    pub fn redacted(&self) -> String {
        redacted(&self.0)
    }

    /// The whole URL, password included: for the Redis client only.
    fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.redacted())
    }
}

/// `url` without its secrets, whether or not it parses: the user information's password (or,
/// without a `:`, all of it: some write the password alone there) becomes `***`, and a query
/// (where `redis+unix://` URLs keep `pass=`) becomes `?***`. Text that is not a URL at all is
/// not shown.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL, not shown>".into();
    };
    // The last `@` ends the user information, even if a password holds an unescaped `@`.
    let (user, rest) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((name, _password)) => (format!("{name}:***@"), host),
            None => ("***@".to_string(), host),
        },
        None => (String::new(), rest),
    };
    let rest = match rest.split_once('?') {
        Some((before, _query)) => format!("{before}?***"),
        None => rest.to_string(),
    };
    format!("{scheme}://{user}{rest}")
}

/// Why `--events` cannot start. No variant holds a password.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("--events {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("--events-ca {}: {reason}", path.display())]
    Ca { path: PathBuf, reason: String },
    #[error("--events-ca needs a rediss:// (TLS) URL, and --events is {url}")]
    CaWithoutTls { url: String },
}

pub struct RedisEvents {
    local: Arc<LocalEvents>,
    queue: mpsc::Sender<Queued>,
    state: Arc<State>,
}

/// An event to publish, and whether this server's subscribers have had it already.
struct Queued {
    event: Arc<TrainerEvent>,
    delivered_here: bool,
}

#[derive(Default)]
struct State {
    /// The publishing connection is up.
    publishing: AtomicBool,
    /// The subscription is up: this server hears the channel.
    hearing: AtomicBool,
}

impl RedisEvents {
    /// Connects to Redis at `url` in the background (and again whenever the connection is lost),
    /// trusting the system's root certificates for a `rediss://` URL.
    pub fn start(url: &str) -> Result<Arc<RedisEvents>, StartError> {
        RedisEvents::start_with(&RedisUrl::new(url), None)
    }

    /// As [`RedisEvents::start`]; with `ca`, a `rediss://` URL's server must have a certificate
    /// that this PEM file's CA (and no other) signed. Fails only on a URL that is not Redis's
    /// or a CA file that cannot be used: reaching Redis is for later, and again when lost.
    pub fn start_with(url: &RedisUrl, ca: Option<&Path>) -> Result<Arc<RedisEvents>, StartError> {
        let (client, target) = client(url, ca)?;
        let (queue, pending) = mpsc::channel(QUEUE);
        let events = Arc::new(RedisEvents {
            local: Arc::new(LocalEvents::default()),
            queue,
            state: Arc::default(),
        });
        let shown: Arc<str> = url.redacted().into();
        tokio::spawn(publish(
            client.clone(),
            shown.clone(),
            pending,
            events.local.clone(),
            events.state.clone(),
        ));
        tokio::spawn(hear(
            target,
            shown,
            Arc::downgrade(&events.local),
            events.state.clone(),
        ));
        Ok(events)
    }
}

/// The Redis client for `url`, which publishes, and the subscribing end: TLS on ring (the crypto
/// provider of the server's own TLS), with the system's roots or `ca`'s certificates only.
fn client(url: &RedisUrl, ca: Option<&Path>) -> Result<(redis::Client, resp::Target), StartError> {
    // rustls's process-wide provider, which the Redis client's TLS uses: ring, set once here
    // (a provider set before stays).
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let url_error = |e: redis::RedisError| StartError::Url {
        url: url.redacted(),
        reason: e.to_string(),
    };
    let target_error = |e: resp::TargetError| StartError::Url {
        url: url.redacted(),
        reason: e.to_string(),
    };
    let Some(path) = ca else {
        let client = redis::Client::open(url.secret()).map_err(url_error)?;
        let target = resp::Target::new(client.get_connection_info(), None).map_err(target_error)?;
        return Ok((client, target));
    };
    let ca_error = |reason: String| StartError::Ca {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(format!("not PEM certificates ({e})")))?;
    if certificates.is_empty() {
        return Err(ca_error("holds no PEM certificate".into()));
    }
    let tls = url
        .secret()
        .split_once("://")
        .is_some_and(|(scheme, _)| matches!(scheme, "rediss" | "valkeys"));
    if !tls {
        return Err(StartError::CaWithoutTls {
            url: url.redacted(),
        });
    }
    let tls_certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    };
    let client =
        redis::Client::build_with_tls(url.secret(), tls_certificates).map_err(url_error)?;
    let target = resp::Target::new(client.get_connection_info(), Some(&certificates))
        .map_err(target_error)?;
    Ok((client, target))
}

/// The refusals of the channel, logged at most once a second: whoever can publish to it must
/// not be able to flood the logs.
#[derive(Default)]
struct Refusals {
    last_line: Option<Instant>,
    unlogged: u64,
}

impl Refusals {
    /// Counts and logs (without its content) a message of the channel that was not delivered.
    fn refuse(&mut self, refused: Refused) {
        ::metrics::counter!(crate::metrics::EVENTS_REFUSED, "reason" => refused.label())
            .increment(1);
        if self
            .last_line
            .is_some_and(|last| last.elapsed() < Duration::from_secs(1))
        {
            self.unlogged += 1;
            return;
        }
        let unlogged = std::mem::take(&mut self.unlogged);
        self.last_line = Some(Instant::now());
        tracing::warn!(
            reason = refused.label(),
            "events: refused {refused} from Redis ({unlogged} more refused since the last line; \
             all counted in trainers_events_refused_total)"
        );
    }
}

/// Logs, once per outage, why Redis cannot be reached (the error never holds the URL).
fn unreachable(shown: &str, what: &str, error: &dyn fmt::Display, warned: &mut bool) {
    if !*warned {
        tracing::warn!("events: cannot {what} Redis at {shown}: {error}; trying again");
        *warned = true;
    }
}

fn lost(events: u64) {
    ::metrics::counter!(crate::metrics::EVENTS_LOST).increment(events);
}

impl EventSink for RedisEvents {
    fn publish(&self, event: TrainerEvent) {
        let event = Arc::new(event);
        let hearing = self.state.hearing.load(Ordering::Acquire);
        if !self.state.publishing.load(Ordering::Acquire) {
            // Redis is unreachable: this server's subscribers still hear it; the others don't.
            self.local.deliver(event);
            lost(1);
            return;
        }
        if !hearing {
            // Published, but this server would not hear it back.
            self.local.deliver(event.clone());
        }
        let queued = Queued {
            event,
            delivered_here: !hearing,
        };
        if let Err(e) = self.queue.try_send(queued) {
            let queued = e.into_inner();
            if !queued.delivered_here {
                self.local.deliver(queued.event);
            }
            tracing::warn!("the Redis publishing queue is full: an event was not shared");
            lost(1);
        }
    }
}

impl EventSource for RedisEvents {
    fn subscribe(&self) -> broadcast::Receiver<Arc<TrainerEvent>> {
        self.local.subscribe()
    }

    fn trouble(&self) -> Option<String> {
        let up = self.state.publishing.load(Ordering::Acquire)
            && self.state.hearing.load(Ordering::Acquire);
        (!up).then(|| "Redis is unreachable: events are not shared with other servers".into())
    }
}

/// Publishes the queued events, connecting (again) as needed.
async fn publish(
    client: redis::Client,
    shown: Arc<str>,
    mut pending: mpsc::Receiver<Queued>,
    local: Arc<LocalEvents>,
    state: Arc<State>,
) {
    let mut warned = false;
    loop {
        let connected = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection());
        let connected = match connected.await {
            Ok(Ok(connection)) => Some(connection),
            Ok(Err(e)) => {
                unreachable(&shown, "publish to", &e, &mut warned);
                None
            }
            Err(_) => {
                unreachable(&shown, "publish to", &"timed out", &mut warned);
                None
            }
        };
        if let Some(mut connection) = connected {
            warned = false;
            tracing::info!("events: publishing to Redis at {shown}");
            state.publishing.store(true, Ordering::Release);
            while let Some(queued) = pending.recv().await {
                let Ok(payload) = serde_json::to_vec(&*queued.event) else {
                    continue;
                };
                let sent = tokio::time::timeout(
                    TIMEOUT,
                    redis::AsyncCommands::publish::<_, _, ()>(&mut connection, CHANNEL, payload),
                );
                if !matches!(sent.await, Ok(Ok(()))) {
                    state.publishing.store(false, Ordering::Release);
                    tracing::warn!("events: Redis stopped taking events; connecting again");
                    if !queued.delivered_here {
                        local.deliver(queued.event);
                    }
                    lost(1);
                    break;
                }
            }
            if pending.is_closed() && pending.is_empty() {
                return;
            }
        }
        state.publishing.store(false, Ordering::Release);
        // Whatever was queued is delivered here only.
        while let Ok(queued) = pending.try_recv() {
            if !queued.delivered_here {
                local.deliver(queued.event);
            }
            lost(1);
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Hears the channel and delivers its events to this server's subscribers, subscribing (again)
/// as needed, for as long as the server's events live.
async fn hear(
    target: resp::Target,
    shown: Arc<str>,
    local: std::sync::Weak<LocalEvents>,
    state: Arc<State>,
) {
    let mut warned = false;
    let mut refusals = Refusals::default();
    while local.strong_count() > 0 {
        let subscribed = tokio::time::timeout(TIMEOUT, target.subscribe(CHANNEL));
        let subscribed = match subscribed.await {
            Ok(Ok(pubsub)) => Some(pubsub),
            Ok(Err(e)) => {
                unreachable(&shown, "subscribe to", &e, &mut warned);
                None
            }
            Err(_) => {
                unreachable(&shown, "subscribe to", &"timed out", &mut warned);
                None
            }
        };
        if let Some(mut subscription) = subscribed {
            warned = false;
            tracing::info!("events: hearing Redis at {shown}");
            state.hearing.store(true, Ordering::Release);
            let ended = loop {
                let message = match subscription.next().await {
                    Ok(message) => message,
                    Err(e) => break e,
                };
                let Some(local) = local.upgrade() else { return };
                // Bounded before parsing: an oversized message was skipped as it came, unread.
                let event = match message {
                    resp::Message::Payload(payload) => TrainerEvent::from_wire(&payload),
                    resp::Message::TooLarge(length) => Err(Refused::TooLarge(length)),
                };
                match event {
                    Ok(event) => local.deliver(Arc::new(event)),
                    Err(refused) => refusals.refuse(refused),
                }
            };
            tracing::warn!("events: the Redis subscription ended ({ended}); subscribing again");
        }
        state.hearing.store(false, Ordering::Release);
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redacted_url_holds_no_password() {
        for (url, shown) in [
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            (
                "redis://:secretpw@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            ("rediss://bob:secretpw@host", "rediss://bob:***@host"),
            ("redis://secretpw@host:1", "redis://***@host:1"),
            ("redis://:se@cr:et/pw@host", "redis://:***@host"),
            (
                "redis+unix:///run/redis.sock?pass=secretpw",
                "redis+unix:///run/redis.sock?***",
            ),
            ("redis:/:secretpw@host", "<not a URL, not shown>"),
        ] {
            assert_eq!(redacted(url), shown, "{shown}");
            let url = RedisUrl::new(url);
            assert!(!format!("{url} {url:?}").contains("secret"));
        }
    }

    #[test]
    fn start_errors_never_show_the_password() {
        // In a runtime: a start that succeeds spawns its tasks.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async {
            for url in [
                "redis://:secretpw@127.0.0.1:99999",
                "rediss://:secretpw@127.0.0.1:1/#nope",
                "http://:secretpw@127.0.0.1:1",
            ] {
                match RedisEvents::start(url) {
                    Err(e) => assert!(!format!("{e} {e:?}").contains("secretpw"), "{e}"),
                    Ok(_) => panic!("{} was taken", redacted(url)),
                }
            }
            let dir = std::env::temp_dir();
            let e = RedisEvents::start_with(&RedisUrl::new("redis://:secretpw@h:1"), Some(&dir));
            assert!(matches!(e, Err(StartError::Ca { .. })));
        });
    }
}

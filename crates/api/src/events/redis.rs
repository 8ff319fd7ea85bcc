//! Events across servers, through Redis pub/sub (`trainers serve --events redis://HOST:PORT`).
//!
//! Each server publishes the events of its mutations to one channel and delivers to its own
//! subscribers what it reads from that channel, its own events included: every server's
//! subscribers hear every server's mutations, each once, in the order Redis received them (for a
//! trainer, its commit order: a mutation's event is handed on as it answers, before a client can
//! send the next one).
//!
//! Mutations never wait for Redis: an event goes into a bounded queue that one task publishes
//! from. When Redis cannot be reached, events are still delivered to this server's subscribers,
//! their loss to the others is logged and counted (`trainers_events_lost_total`), `/readyz` says
//! so, and both connections are made again by themselves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, mpsc};

use super::{EventSink, EventSource, LocalEvents, TrainerEvent};

/// The Redis channel the events go through.
pub const CHANNEL: &str = "trainers:events";
/// Events waiting to be published before more are counted lost.
const QUEUE: usize = 4096;
/// How long a connection, or one publish, may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The wait before connecting again.
const RETRY: Duration = Duration::from_millis(500);

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
    /// Connects to Redis at `url` in the background (and again whenever the connection is lost).
    /// Fails only on a URL that is not Redis's.
    pub fn start(url: &str) -> Result<Arc<RedisEvents>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--events {url}: {e}"))?;
        let (queue, pending) = mpsc::channel(QUEUE);
        let events = Arc::new(RedisEvents {
            local: Arc::new(LocalEvents::default()),
            queue,
            state: Arc::default(),
        });
        tokio::spawn(publish(
            client.clone(),
            pending,
            events.local.clone(),
            events.state.clone(),
        ));
        tokio::spawn(hear(
            client,
            Arc::downgrade(&events.local),
            events.state.clone(),
        ));
        Ok(events)
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
    mut pending: mpsc::Receiver<Queued>,
    local: Arc<LocalEvents>,
    state: Arc<State>,
) {
    loop {
        let connected = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection());
        if let Ok(Ok(mut connection)) = connected.await {
            tracing::info!("events: publishing to Redis");
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
async fn hear(client: redis::Client, local: std::sync::Weak<LocalEvents>, state: Arc<State>) {
    while local.strong_count() > 0 {
        let subscribed = tokio::time::timeout(TIMEOUT, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(CHANNEL).await?;
            Ok::<_, redis::RedisError>(pubsub)
        });
        if let Ok(Ok(pubsub)) = subscribed.await {
            tracing::info!("events: hearing Redis");
            state.hearing.store(true, Ordering::Release);
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let Some(local) = local.upgrade() else { return };
                match serde_json::from_slice::<TrainerEvent>(message.get_payload_bytes()) {
                    Ok(event) => local.deliver(Arc::new(event)),
                    Err(e) => tracing::warn!(error = %e, "events: a message that is not an event"),
                }
            }
            tracing::warn!("events: the Redis subscription ended; subscribing again");
        }
        state.hearing.store(false, Ordering::Release);
        tokio::time::sleep(RETRY).await;
    }
}

//! What subscribers hear: each committed mutation's result, as the mutation selected it, behind
//! a sink/source pair. The mutation resolvers publish to an [`EventSink`] once the service has
//! answered (so once the store has committed); subscriptions read an [`EventSource`].
//!
//! - [`LocalEvents`]: in this process (one server), a broadcast channel;
//! - [`redis::RedisEvents`]: across servers, through Redis pub/sub (`serve --events redis://…`);
//! - the Lambda publishes nothing: on AWS, AppSync delivers subscriptions itself.
//!
//! Publishing never waits: a subscriber that falls [`BUFFER`] events behind is told and dropped,
//! and a bus that cannot take an event counts it lost.

use std::sync::Arc;

use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use trainers_core::Trainer;

pub mod redis;

/// Events one subscriber may fall behind before it is told and dropped.
pub const BUFFER: usize = 4096;

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

/// The fields a mutation selected, which AppSync passes on to subscribers; `None` is all.
pub type Selection = Option<Arc<[String]>>;

/// Whether a selection holds `field` (no selection holds every field).
pub fn selects(selection: &Selection, field: &str) -> bool {
    selection
        .as_ref()
        .is_none_or(|s| s.iter().any(|f| f == field))
}

/// A committed change, as subscribers receive it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerEvent {
    pub kind: EventKind,
    pub trainer: Arc<Trainer>,
    /// The fields the mutation selected (AppSync sends subscribers only those).
    pub selected: Selection,
}

/// What a subscriber that missed `missed` events is told (and the count of dropped events).
pub fn fell_behind(missed: u64) -> String {
    ::metrics::counter!(crate::metrics::EVENTS_DROPPED).increment(missed);
    format!("This subscriber fell {missed} events behind and was dropped; subscribe again")
}

/// What a reader of a broadcast channel hears: the next item, or that it fell behind.
pub enum Heard<T> {
    Item(T),
    /// It missed this many items; nothing follows.
    FellBehind(u64),
}

/// A broadcast receiver as a stream, for every reader that must not slow its writer: it ends
/// when the channel closes, or right after telling its reader that it fell behind.
pub fn listen<T: Clone + Send + 'static>(
    receiver: broadcast::Receiver<T>,
) -> impl Stream<Item = Heard<T>> + Send + 'static {
    futures::stream::unfold(Some(receiver), |state| async move {
        let mut receiver = state?;
        match receiver.recv().await {
            Ok(item) => Some((Heard::Item(item), Some(receiver))),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                Some((Heard::FellBehind(missed), None))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}

/// Where mutations publish their events. Never waits.
pub trait EventSink: Send + Sync {
    fn publish(&self, event: TrainerEvent);
}

/// Where subscriptions read events, in commit order per trainer.
pub trait EventSource: Send + Sync {
    fn subscribe(&self) -> broadcast::Receiver<Arc<TrainerEvent>>;
    /// `Some(reason)` when events from other servers may not be arriving now.
    fn trouble(&self) -> Option<String> {
        None
    }
}

/// The sink and the source of one server.
#[derive(Clone)]
pub struct Events {
    pub sink: Arc<dyn EventSink>,
    pub source: Arc<dyn EventSource>,
}

impl Events {
    /// Events within this process.
    pub fn local() -> Self {
        let local = Arc::new(LocalEvents::default());
        Events {
            sink: local.clone(),
            source: local,
        }
    }
}

/// Events within one process: a broadcast channel.
pub struct LocalEvents {
    sender: broadcast::Sender<Arc<TrainerEvent>>,
}

impl Default for LocalEvents {
    fn default() -> Self {
        LocalEvents {
            sender: broadcast::channel(BUFFER).0,
        }
    }
}

impl LocalEvents {
    fn deliver(&self, event: Arc<TrainerEvent>) {
        // Nobody listening: no copy kept. The last subscriber may have gone just now.
        if self.sender.receiver_count() > 0 {
            let _ = self.sender.send(event);
        }
    }
}

impl EventSink for LocalEvents {
    fn publish(&self, event: TrainerEvent) {
        self.deliver(Arc::new(event));
    }
}

impl EventSource for LocalEvents {
    fn subscribe(&self) -> broadcast::Receiver<Arc<TrainerEvent>> {
        self.sender.subscribe()
    }
}

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
use trainers_core::{Age, Trainer, TrainerId, TrainerName};

pub mod redis;
mod resp;

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
#[serde(deny_unknown_fields)]
pub struct TrainerEvent {
    pub kind: EventKind,
    pub trainer: Arc<Trainer>,
    /// The fields the mutation selected (AppSync sends subscribers only those).
    pub selected: Selection,
}

/// The fields of a trainer a mutation can select (what an event's selection may name).
pub const TRAINER_FIELDS: [&str; 9] = [
    "id",
    "firstName",
    "lastName",
    "age",
    "specialty",
    "createdAt",
    "updatedAt",
    "version",
    "__typename",
];

/// The largest event read from another server, in bytes: 16 KiB. A trainer event is far smaller
/// (two names of at most 100 characters, under 1 KiB of JSON with every field and a selection
/// of every field); anything larger is refused before it is parsed.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// Why an event from another server was refused. It never holds the event's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("an event of {0} bytes, over the {MAX_EVENT_BYTES}-byte bound")]
    TooLarge(usize),
    #[error("a message that is not an event")]
    Malformed,
    #[error("an event whose {0} is not valid")]
    Invalid(&'static str),
}

impl Refused {
    /// The `reason` label of `trainers_events_refused_total`.
    pub const fn label(self) -> &'static str {
        match self {
            Refused::TooLarge(_) => "too_large",
            Refused::Malformed => "malformed",
            Refused::Invalid(_) => "invalid",
        }
    }
}

impl TrainerEvent {
    /// Reads an event another server published: at most [`MAX_EVENT_BYTES`], checked before it
    /// is parsed, then held to the rules a mutation's input is held to (core's parsers), so that
    /// subscribers only ever hear what a mutation of this API could have produced.
    pub fn from_wire(bytes: &[u8]) -> Result<TrainerEvent, Refused> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(Refused::TooLarge(bytes.len()));
        }
        let event: TrainerEvent = serde_json::from_slice(bytes).map_err(|_| Refused::Malformed)?;
        event.validated()
    }

    /// This event, if a mutation of this API could have produced it; its selection without
    /// repeated names.
    pub fn validated(mut self) -> Result<TrainerEvent, Refused> {
        let trainer = &self.trainer;
        if TrainerId::parse(trainer.id.as_str()).as_ref() != Some(&trainer.id) {
            return Err(Refused::Invalid("id"));
        }
        let name_ok = |field: &'static str, raw: &str| {
            TrainerName::parse(field, raw).is_ok_and(|name| name.as_str() == raw)
        };
        if !name_ok("firstName", &trainer.first_name) {
            return Err(Refused::Invalid("firstName"));
        }
        if !name_ok("lastName", &trainer.last_name) {
            return Err(Refused::Invalid("lastName"));
        }
        if Age::parse(trainer.age).is_err() {
            return Err(Refused::Invalid("age"));
        }
        if trainer.version < 1 {
            return Err(Refused::Invalid("version"));
        }
        if let Some(selected) = &self.selected {
            if !selected
                .iter()
                .all(|f| TRAINER_FIELDS.contains(&f.as_str()))
            {
                return Err(Refused::Invalid("selection"));
            }
            let mut names: Vec<String> = Vec::with_capacity(TRAINER_FIELDS.len());
            for field in selected.iter() {
                if !names.contains(field) {
                    names.push(field.clone());
                }
            }
            self.selected = Some(names.into());
        }
        Ok(self)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn event() -> Value {
        json!({
            "kind": "Created",
            "trainer": {
                "id": "0191f2a4-5b6c-7d8e-9f00-112233445566",
                "firstName": "Ada",
                "lastName": "Byron",
                "age": 36,
                "specialty": "BODYBUILDING",
                "createdAt": "2026-11-29T21:38:53.123Z",
                "updatedAt": "2026-11-29T21:38:53.123Z",
                "version": 1
            },
            "selected": ["id", "firstName", "id", "__typename"]
        })
    }

    fn read(value: &Value) -> Result<TrainerEvent, Refused> {
        TrainerEvent::from_wire(value.to_string().as_bytes())
    }

    #[test]
    fn a_valid_event_is_read_with_its_selection_once() {
        let event = read(&event()).map(|e| e.selected);
        let selected: Selection =
            Some(vec!["id".into(), "firstName".into(), "__typename".into()].into());
        assert_eq!(event, Ok(selected));
    }

    #[test]
    fn what_a_mutation_could_not_have_made_is_refused() {
        let long = "x".repeat(trainers_core::validation::NAME_MAX_CHARS + 1);
        let cases: [(&str, Value, Refused); 10] = [
            ("/trainer/id", json!("not-an-id"), Refused::Invalid("id")),
            (
                "/trainer/id",
                json!("0191F2A4-5B6C-7D8E-9F00-112233445566"),
                Refused::Invalid("id"),
            ),
            (
                "/trainer/firstName",
                json!(long),
                Refused::Invalid("firstName"),
            ),
            (
                "/trainer/firstName",
                json!(" Ada"),
                Refused::Invalid("firstName"),
            ),
            (
                "/trainer/lastName",
                json!("By\u{7}ron"),
                Refused::Invalid("lastName"),
            ),
            ("/trainer/lastName", json!(""), Refused::Invalid("lastName")),
            ("/trainer/age", json!(5), Refused::Invalid("age")),
            ("/trainer/version", json!(0), Refused::Invalid("version")),
            ("/trainer/specialty", json!("NINJA"), Refused::Malformed),
            (
                "/selected",
                json!(["id", "password"]),
                Refused::Invalid("selection"),
            ),
        ];
        for (pointer, value, refused) in cases {
            let mut bad = event();
            if let Some(slot) = bad.pointer_mut(pointer) {
                *slot = value;
            }
            assert_eq!(read(&bad), Err(refused), "{pointer}");
        }
        let mut extra = event();
        extra["more"] = json!(1);
        assert_eq!(read(&extra), Err(Refused::Malformed));
        assert_eq!(
            TrainerEvent::from_wire(b"{\"kind\":"),
            Err(Refused::Malformed)
        );
        let big = vec![b' '; MAX_EVENT_BYTES + 1];
        assert_eq!(
            TrainerEvent::from_wire(&big),
            Err(Refused::TooLarge(MAX_EVENT_BYTES + 1))
        );
    }
}

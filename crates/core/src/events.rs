use std::sync::Arc;

use crate::model::Trainer;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

/// A committed change, published after the store has made it durable.
#[derive(Clone, Debug)]
pub struct TrainerEvent {
    pub kind: EventKind,
    pub trainer: Arc<Trainer>,
    /// The fields the mutation selected (AppSync sends subscribers only those), when known.
    pub selected: Option<Arc<[String]>>,
}

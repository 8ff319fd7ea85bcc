//! The root type `Subscription`: the events a subscriber wants, filtered as AppSync filters them.

use async_graphql::{Context, Subscription, ID};
use futures::{Stream, StreamExt};
use trainers_core::{Field, Filter, FilterKind};

use super::error::{graphql_error, ErrorType};
use super::inputs::{self, ModelSubscriptionTrainersFilterInput};
use super::schema::{bus, gql_error};
use super::types::{Specialty, Trainers};
use crate::events::{fell_behind, listen, selects, EventKind, Heard, TrainerEvent};

pub struct SubscriptionRoot;

/// What a subscription asks of the events it hears: each given argument must equal the field of
/// the same name in the payload, as the mutation selected it, and the payload must hold the
/// filter (a field the mutation did not select has no value).
struct Wanted {
    kind: EventKind,
    id: Option<ID>,
    specialty: Option<Specialty>,
    filter: Option<Filter>,
}

impl Wanted {
    fn new(
        kind: EventKind,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<Self> {
        let filter =
            inputs::filter(FilterKind::Subscription, filter.as_ref()).map_err(gql_error)?;
        Ok(Wanted {
            kind,
            id,
            specialty,
            filter,
        })
    }

    fn passes(&self, event: &TrainerEvent) -> bool {
        let shown = |field: &str| selects(&event.selected, field);
        let id_ok = self
            .id
            .as_ref()
            .is_none_or(|id| shown("id") && id.as_str() == event.trainer.id.as_str());
        let specialty_ok = self
            .specialty
            .is_none_or(|s| shown("specialty") && event.trainer.specialty == Some(s.into()));
        let filter_ok = self.filter.as_ref().is_none_or(|f| {
            f.matches_with(&|field: Field| {
                if shown(field.name()) {
                    field.of(&event.trainer)
                } else {
                    None
                }
            })
        });
        event.kind == self.kind && id_ok && specialty_ok && filter_ok
    }
}

/// The events that a subscription wants. A subscriber that falls more than the event buffer
/// behind gets one error and its subscription ends, so it never slows anyone else.
fn events(
    ctx: &Context<'_>,
    wanted: Wanted,
) -> impl Stream<Item = async_graphql::Result<Option<Trainers>>> {
    listen(bus(ctx).source.subscribe()).filter_map(move |heard| {
        let answer = match heard {
            Heard::Item(e) if wanted.passes(&e) => Some(Ok(Some(Trainers {
                trainer: e.trainer.clone(),
                selected: e.selected.clone(),
            }))),
            Heard::Item(_) => None,
            Heard::FellBehind(missed) => Some(Err(graphql_error(
                ErrorType::SubscriberTooSlow,
                fell_behind(missed),
            ))),
        };
        std::future::ready(answer)
    })
}

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    async fn on_create_trainer(
        &self,
        ctx: &Context<'_>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Created, None, specialty, filter)?;
        Ok(events(ctx, wanted))
    }

    async fn on_update_trainer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Updated, id, specialty, filter)?;
        Ok(events(ctx, wanted))
    }

    async fn on_delete_trainer(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        specialty: Option<Specialty>,
        filter: Option<ModelSubscriptionTrainersFilterInput>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Option<Trainers>>>> {
        let wanted = Wanted::new(EventKind::Deleted, id, specialty, filter)?;
        Ok(events(ctx, wanted))
    }
}

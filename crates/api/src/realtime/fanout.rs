//! Subscribers that send the same subscription (same query, variables and operation name) share
//! one execution of it: each event is resolved once and its result handed to all of them. With
//! many subscribers, executing the subscription for each of them was most of the cost of an
//! event (about 30 µs of CPU per subscriber, measured with 1,000).
//!
//! The result is the same for all of them: it depends on the event and the request only
//! (credentials authorize, they do not filter: a shared execution carries its first
//! subscriber's caller in its data, which no subscription resolver reads; each subscriber's own
//! token still ends its own stream when it expires, in `connection::forward`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::Response;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::connection::{self, Started};
use crate::events::{fell_behind, listen, Heard};
use crate::graphql::error::{server_error, ErrorType};
use crate::graphql::{Engine, Ready};
use crate::metrics;

/// Results one subscriber may fall behind the shared execution before it is told and dropped:
/// as many as its connection's outgoing queue holds (`Limits::outgoing_queue`'s default), so a
/// subscriber that lags this far is one whose connection is about to be found too slow anyway.
/// Each group's channel holds this many slots, about 10 KB, for as long as it has a subscriber.
const GROUP_BUFFER: usize = 256;

/// (query, variables as JSON, operation name).
type Key = (String, String, Option<String>);

#[derive(Clone, Default)]
pub struct Fanout {
    groups: Arc<Groups>,
}

type Groups = Mutex<HashMap<Key, broadcast::Sender<Arc<Response>>>>;

fn lock(groups: &Groups) -> MutexGuard<'_, HashMap<Key, broadcast::Sender<Arc<Response>>>> {
    groups
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Fanout {
    /// Shared executions running now.
    pub fn executions(&self) -> usize {
        lock(&self.groups).len()
    }

    /// Starts `request`. A subscription (`subscription`: the caller has told the operation's
    /// type) joins the execution of an identical one if there is one, or starts one that others
    /// may join; anything else runs on its own.
    pub fn start(&self, engine: &Engine, ready: Ready, subscription: bool) -> Started {
        if !subscription {
            return connection::start(engine, ready);
        }
        let request = ready.request();
        let key = (
            request.query.clone(),
            serde_json::to_string(&request.variables).unwrap_or_default(),
            request.operation_name.clone(),
        );
        if let Some(results) = lock(&self.groups).get(&key) {
            // Subscribed before this returns, so before the client hears that it started.
            return Started::Running(None, follow(results.subscribe()));
        }
        // Started outside the lock: starting runs parsing, validation and a first poll.
        let upstream = match connection::start(engine, ready) {
            Started::Running(None, upstream) => upstream,
            // Failed, or answered at once: nothing to share.
            other => return other,
        };
        let mut groups = lock(&self.groups);
        if groups.contains_key(&key) {
            // An identical subscription started meanwhile: this one runs on its own.
            return Started::Running(None, upstream);
        }
        let (results, first) = broadcast::channel(GROUP_BUFFER);
        groups.insert(key.clone(), results.clone());
        tokio::spawn(pump(self.groups.clone(), key, upstream, results));
        Started::Running(None, follow(first))
    }
}

/// Runs the shared execution, handing each result to every subscriber, until it ends or the
/// last subscriber has gone: then, at once (whether or not an event comes), the group is
/// removed and the execution dropped, with all it held.
async fn pump(
    groups: Arc<Groups>,
    key: Key,
    mut upstream: BoxStream<'static, Arc<Response>>,
    results: broadcast::Sender<Arc<Response>>,
) {
    let executions = ::metrics::gauge!(metrics::SUBSCRIPTION_EXECUTIONS);
    executions.increment(1.0);
    pump_until_unheard(&groups, &key, &mut upstream, &results).await;
    executions.decrement(1.0);
}

async fn pump_until_unheard(
    groups: &Groups,
    key: &Key,
    upstream: &mut BoxStream<'static, Arc<Response>>,
    results: &broadcast::Sender<Arc<Response>>,
) {
    loop {
        tokio::select! {
            result = upstream.next() => match result {
                Some(result) => {
                    // No subscriber left: `closed` below ends the group.
                    let _ = results.send(result);
                }
                None => break,
            },
            () = results.closed() => {
                let mut groups = lock(groups);
                // A subscriber may have joined between `closed` and the lock: it keeps the group.
                if results.receiver_count() == 0 {
                    groups.remove(key);
                    return;
                }
            }
        }
    }
    lock(groups).remove(key);
}

/// One subscriber's results; one that falls [`GROUP_BUFFER`] behind gets an error and its stream
/// ends.
fn follow(results: broadcast::Receiver<Arc<Response>>) -> BoxStream<'static, Arc<Response>> {
    listen(results)
        .map(|heard| match heard {
            Heard::Item(result) => result,
            Heard::FellBehind(missed) => {
                let error = server_error(ErrorType::SubscriberTooSlow, fell_behind(missed));
                Arc::new(Response::from_errors(vec![error]))
            }
        })
        .boxed()
}

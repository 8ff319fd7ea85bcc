//! Null propagation as the GraphQL spec (and AppSync) does it. async-graphql leaves a failed
//! field out of its parent instead; clients expect `{"updateTrainers": null}` beside the error,
//! and a failed non-null field to null its nearest nullable ancestor (or `data` itself).

use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, NextSubscribe,
    ResolveInfo,
};
use async_graphql::{Response, ServerError, ServerResult, Value};
use futures::stream::BoxStream;
use futures::StreamExt;

pub struct SpecNulls;

impl ExtensionFactory for SpecNulls {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SpecNullsExtension::default())
    }
}

#[derive(Default)]
struct SpecNullsExtension {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Errors of nullable fields, which now resolve to null: they go back into the response.
    caught: Vec<ServerError>,
    /// Paths of failed non-null fields not yet absorbed by a nullable ancestor.
    pending: Vec<Vec<String>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Puts what was caught back into a finished response.
fn settle(state: &Mutex<State>, mut resp: Response) -> Response {
    let mut st = lock(state);
    resp.errors.append(&mut st.caught);
    if !std::mem::take(&mut st.pending).is_empty() {
        match &mut resp.data {
            // A subscription's root field is nullable: only it becomes null.
            Value::Object(fields) if resp.errors.iter().all(|e| e.path.len() > 1) => {
                fields.values_mut().for_each(|v| *v = Value::Null)
            }
            data => *data = Value::Null,
        }
    }
    resp.errors.sort_by(|a, b| a.locations.cmp(&b.locations));
    resp
}

#[async_graphql::async_trait::async_trait]
impl Extension for SpecNullsExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let resp = next.run(ctx, operation_name).await;
        settle(&self.state, resp)
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let state = self.state.clone();
        next.run(ctx, stream)
            .map(move |resp| settle(&state, resp))
            .boxed()
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        let path = info.path_node;
        match next.run(ctx, info).await {
            Err(e) if nullable => {
                lock(&self.state).caught.push(e);
                Ok(Some(Value::Null))
            }
            Err(e) => {
                lock(&self.state).pending.push(path.to_string_vec());
                Err(e)
            }
            Ok(v) if nullable => {
                let mut st = lock(&self.state);
                if st.pending.is_empty() {
                    return Ok(v);
                }
                let me = path.to_string_vec();
                let before = st.pending.len();
                st.pending.retain(|p| !p.starts_with(&me));
                if st.pending.len() < before {
                    Ok(Some(Value::Null))
                } else {
                    Ok(v)
                }
            }
            Ok(v) => Ok(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use serde_json::{json, Value as Json};

    struct Query;
    struct Inner;

    #[Object]
    impl Inner {
        async fn ok(&self) -> i32 {
            1
        }
        async fn fails(&self) -> async_graphql::Result<i32> {
            Err("no".into())
        }
    }

    #[Object]
    impl Query {
        async fn nullable(&self) -> async_graphql::Result<Option<i32>> {
            Err("broken".into())
        }
        async fn inner(&self) -> Option<Inner> {
            Some(Inner)
        }
    }

    async fn run(query: &str) -> (Json, Vec<Json>) {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(SpecNulls)
            .finish();
        let response = schema.execute(query).await;
        let body = serde_json::to_value(&response).unwrap_or_default();
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        let paths = errors.iter().map(|e| e["path"].clone()).collect();
        (body["data"].clone(), paths)
    }

    #[tokio::test]
    async fn a_failed_nullable_field_is_null_beside_its_error() {
        let (data, paths) = run("{ nullable inner { ok } }").await;
        assert_eq!(data, json!({"nullable": null, "inner": {"ok": 1}}));
        assert_eq!(paths, [json!(["nullable"])]);
    }

    #[tokio::test]
    async fn a_failed_non_null_field_nulls_its_nearest_nullable_ancestor() {
        let (data, paths) = run("{ inner { ok fails } nullable }").await;
        assert_eq!(data, json!({"inner": null, "nullable": null}));
        assert_eq!(paths.len(), 2, "{paths:?}");
        assert!(paths.contains(&json!(["inner", "fails"])), "{paths:?}");
    }
}

//! The parse step of every request: a query text is parsed, checked against the limits and
//! described for the log once, then served from a cache. Clients send the same few query texts
//! again and again; parsing one (async-graphql's pest parser) cost more than running it, by perf
//! under load. Validation still runs on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

use crate::limits::{self, OperationLabel};

/// A checked document and its log label.
type Parsed = Arc<(ExecutableDocument, String)>;

/// Distinct query texts kept. When full the cache starts over: simple, and an application's
/// set of queries is far smaller.
const ENTRIES: usize = 1024;
/// Longer query texts are not kept.
const MAX_QUERY_BYTES: usize = 16 * 1024;

#[derive(Default)]
pub struct ParseCache {
    parsed: Arc<Mutex<HashMap<String, Parsed>>>,
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ParseCacheExtension {
            parsed: self.parsed.clone(),
        })
    }
}

struct ParseCacheExtension {
    parsed: Arc<Mutex<HashMap<String, Parsed>>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ParseCacheExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let label = ctx.data_opt::<OperationLabel>();
        let cached = self.parsed.lock().ok().and_then(|c| c.get(query).cloned());
        if let Some(parsed) = cached {
            label.inspect(|l| l.set(&parsed.1));
            return Ok(parsed.0.clone());
        }
        let doc = next.run(ctx, query, variables).await?;
        let description = limits::describe(&doc);
        label.inspect(|l| l.set(&description));
        limits::check(&doc)?;
        if query.len() <= MAX_QUERY_BYTES {
            if let Ok(mut cache) = self.parsed.lock() {
                if cache.len() >= ENTRIES {
                    cache.clear();
                }
                cache.insert(query.to_string(), Arc::new((doc.clone(), description)));
            }
        }
        Ok(doc)
    }
}

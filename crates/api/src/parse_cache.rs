//! The parse step of every request, as an async-graphql extension: a query text is parsed once,
//! checked against [`limits`] (linear in its text, before anything else walks it), its variables
//! given their defaults, and described for the log. Documents that then validate are kept in a
//! cache bounded by memory, so clients that send the same few queries again and again (they do)
//! skip parsing, which cost more than running a query, by perf under load.
//!
//! async-graphql's own parse step is never run: it walks fragment spreads to check recursion
//! (exponential in a fragment bomb) before any extension could refuse the document.

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use crate::limits::{self, OperationLabel};

/// A parsed document and its log label.
struct Parsed {
    doc: ExecutableDocument,
    label: String,
    metric: &'static str,
}

/// Memory the cache may hold, by the estimate of [`DocumentWeight`].
const CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Query texts longer than this are not kept (one would take a large part of the cache).
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;

/// A parsed document's memory, estimated from its text: measured with async-graphql 7, a
/// document takes about 35 bytes of memory per byte of query text (565 KB for 16 KiB).
#[derive(Clone)]
struct DocumentWeight;

impl Weighter<Arc<str>, Arc<Parsed>> for DocumentWeight {
    fn weight(&self, query: &Arc<str>, _: &Arc<Parsed>) -> u64 {
        (query.len() as u64).saturating_mul(40).max(1)
    }
}

type DocumentCache = Cache<Arc<str>, Arc<Parsed>, DocumentWeight>;

pub struct ParseCache {
    cache: Arc<DocumentCache>,
}

impl Default for ParseCache {
    fn default() -> Self {
        ParseCache {
            cache: Arc::new(Cache::with_weighter(4096, CACHE_BYTES, DocumentWeight)),
        }
    }
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ParseStep {
            cache: self.cache.clone(),
            this_request: Mutex::new(None),
        })
    }
}

/// The extension of one request.
struct ParseStep {
    cache: Arc<DocumentCache>,
    /// This request's document, parsed in `prepare_request`.
    this_request: Mutex<Option<ThisRequest>>,
}

struct ThisRequest {
    /// The text to keep it under, when it did not come from the cache.
    query: Option<Arc<str>>,
    parsed: Arc<Parsed>,
}

impl ParseStep {
    fn parse(&self, query: &str) -> ServerResult<ThisRequest> {
        // Looked up by the text as it is: a copy is made only to keep a new document.
        if let Some(parsed) = self.cache.get(query) {
            return Ok(ThisRequest {
                query: None,
                parsed,
            });
        }
        limits::check_length(query)?;
        let doc = async_graphql::parser::parse_query(query)?;
        let label = limits::describe(&doc);
        let metric = limits::metric_name(&doc);
        Ok(ThisRequest {
            query: Some(Arc::from(query)),
            parsed: Arc::new(Parsed { doc, label, metric }),
        })
    }
}

/// Gives each variable that the request left out the default its definition has, as the
/// GraphQL spec's variable coercion does (async-graphql's `@skip`/`@include` would read it as
/// absent).
fn fill_defaults(doc: &ExecutableDocument, request: &mut Request) {
    let operation = match &request.operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => doc.operations.iter().next(),
    };
    let Some((_, operation)) = operation else {
        return;
    };
    for definition in &operation.node.variable_definitions {
        let definition = &definition.node;
        // The explicit default only: `default_value()` would also make a null of a nullable
        // variable's absence, and an argument left out is not an argument set to null.
        if let Some(default) = &definition.default_value {
            let default = &default.node;
            if !request.variables.contains_key(&definition.name.node) {
                request
                    .variables
                    .insert(definition.name.node.clone(), default.clone());
            }
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ParseStep {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let this = self.parse(&request.query)?;
        if let Some(label) = request.data.get(&std::any::TypeId::of::<OperationLabel>()) {
            if let Some(label) = label.downcast_ref::<OperationLabel>() {
                label.set(&this.parsed.label, this.parsed.metric);
            }
        }
        fill_defaults(&this.parsed.doc, &mut request);
        limits::check(&this.parsed.doc, &request.variables)?;
        if let Ok(mut slot) = self.this_request.lock() {
            *slot = Some(this);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let parsed = self
            .this_request
            .lock()
            .ok()
            .and_then(|slot| slot.as_ref().map(|this| this.parsed.clone()));
        match parsed {
            Some(parsed) => Ok(parsed.doc.clone()),
            // Not prepared here: never the case, as prepare_request runs first.
            None => next.run(ctx, query, variables).await,
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let this_request = self.this_request.lock().ok().and_then(|mut s| s.take());
        if let Some(ThisRequest {
            query: Some(query),
            parsed,
        }) = this_request
        {
            if query.len() <= MAX_CACHED_QUERY_BYTES {
                self.cache.insert(query, parsed);
            }
        }
        Ok(result)
    }
}

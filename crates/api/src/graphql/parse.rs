//! The one parse step, for every entrypoint (HTTP and both WebSocket protocols), in this order:
//! the query text's length ([`limits::check_length`]), then parsing (or the document cache),
//! the variables' defaults, the bounds of [`limits::check`] (linear in the text, before anything
//! else walks the document), and the choice of the operation that will run. Documents that then
//! validate are kept in a cache bounded by memory, so clients that send the same few queries
//! again and again (they do) skip parsing, which cost more than running a query, by perf under
//! load.
//!
//! An entrypoint calls [`Parser::prepare`] itself (it learns the operation's type and label from
//! it), and async-graphql, through the extension [`ParseCache`], takes the document prepared;
//! its own parse step never runs: it walks fragment spreads to check recursion (exponential in a
//! fragment bomb) before any extension could refuse the document.

use std::any::TypeId;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{Name, Request, ServerError, ServerResult, ValidationResult, Value, Variables};
use quick_cache::sync::Cache;
use quick_cache::Weighter;

use super::limits;
use super::plan::Plan;
use crate::metrics::Operation;

/// Memory the cache may hold, by the estimate of [`DocumentWeight`].
const CACHE_BYTES: u64 = 32 * 1024 * 1024;
/// Query texts longer than this are not kept (one would take a large part of the cache).
const MAX_CACHED_QUERY_BYTES: usize = 16 * 1024;

/// A parsed document, with what the log and the metrics say of it.
struct Parsed {
    doc: ExecutableDocument,
    label: String,
    operation: Operation,
    /// Its plan, when it is a read the fast path answers ([`Plan::compile`]).
    plan: Option<Plan>,
}

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

/// The parse step and its cache, shared by every entrypoint of one server.
#[derive(Clone)]
pub struct Parser {
    cache: Arc<DocumentCache>,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            cache: Arc::new(Cache::with_weighter(4096, CACHE_BYTES, DocumentWeight)),
        }
    }
}

/// A request through the parse step: its document, checked against every bound, and what it
/// runs.
pub struct Prepared {
    parsed: Arc<Parsed>,
    /// The text to keep the document under once it validates: `None` when it came from the
    /// cache, or is too long to keep.
    to_cache: Option<Arc<str>>,
    /// The type of the operation the request runs; `None` when no operation can be chosen
    /// (execution then says why, as it would have).
    kind: Option<OperationType>,
    /// Whether the document came from the cache, so validated before.
    cached: bool,
}

impl Prepared {
    /// Puts the root fields of `data` in the order the operation selected them, as the GraphQL
    /// spec orders a response: async-graphql resolves a query's root fields concurrently and
    /// keeps them in the order they finish (`{ countTrainers allTrainers { … } }` answered
    /// `allTrainers` first). Deeper fields resolve in order already.
    pub fn order_root(&self, operation_name: Option<&str>, data: &mut Value) {
        let Value::Object(fields) = data else {
            return;
        };
        if fields.len() < 2 {
            return;
        }
        let doc = &self.parsed.doc;
        let operation = match (&doc.operations, operation_name) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
                Some(op) => op,
                None => return,
            },
            (DocumentOperations::Multiple(ops), None) => match ops.values().next() {
                Some(op) if ops.len() == 1 => op,
                _ => return,
            },
        };
        let mut order = Vec::with_capacity(fields.len());
        let mut spread = Vec::new();
        response_keys(
            doc,
            &operation.node.selection_set.node,
            &mut order,
            &mut spread,
        );
        let mut ordered = IndexMap::with_capacity(fields.len());
        for key in order {
            if let Some((key, value)) = fields.shift_remove_entry(key.as_str()) {
                ordered.insert(key, value);
            }
        }
        ordered.extend(fields.drain(..));
        *fields = ordered;
    }

    /// The fast path's plan of the document, once it has validated before (it came from the
    /// cache): a document is planned only after the general path has accepted it once.
    pub fn plan(&self) -> Option<&Plan> {
        self.cached.then_some(self.parsed.plan.as_ref()).flatten()
    }

    /// The plan whether or not the document validated before: for the differential tests,
    /// which run a request through both paths.
    pub fn plan_uncached(&self) -> Option<&Plan> {
        self.parsed.plan.as_ref()
    }

    /// What the request asks, for its log line (e.g. `mutation createTrainer`).
    pub fn label(&self) -> &str {
        &self.parsed.label
    }

    /// Its first root field, as metrics name it.
    pub fn operation(&self) -> Operation {
        self.parsed.operation
    }

    /// Whether the operation it runs is a subscription; `None` when that can't be told.
    pub fn is_subscription(&self) -> Option<bool> {
        self.kind.map(|kind| kind == OperationType::Subscription)
    }
}

impl Parser {
    /// Runs the parse step on `request` (giving its variables their defaults), and leaves what
    /// it prepared in the request's data, for execution to take.
    pub fn prepare(&self, request: &mut Request) -> ServerResult<Arc<Prepared>> {
        limits::check_length(&request.query)?;
        // Looked up by the text as it is: a copy is made only to keep a new document.
        let (parsed, to_cache, cached) = match self.cache.get(request.query.as_str()) {
            Some(parsed) => (parsed, None, true),
            None => {
                let doc = async_graphql::parser::parse_query(&request.query)?;
                let label = limits::describe(&doc);
                let operation = limits::operation(&doc);
                let plan = Plan::compile(&doc);
                let parsed = Arc::new(Parsed {
                    doc,
                    label,
                    operation,
                    plan,
                });
                let keep = request.query.len() <= MAX_CACHED_QUERY_BYTES;
                (
                    parsed,
                    keep.then(|| Arc::from(request.query.as_str())),
                    false,
                )
            }
        };
        fill_defaults(&parsed.doc, request);
        limits::check(&parsed.doc, &request.variables)?;
        let kind = chosen(&parsed.doc, request.operation_name.as_deref());
        let prepared = Arc::new(Prepared {
            parsed,
            to_cache,
            kind,
            cached,
        });
        request.data.insert(prepared.clone());
        Ok(prepared)
    }

    fn keep(&self, prepared: &Prepared) {
        if let Some(query) = &prepared.to_cache {
            self.cache.insert(query.clone(), prepared.parsed.clone());
        }
    }
}

/// The type of the operation that runs, chosen as execution chooses it: by name, or the only
/// one.
fn chosen(doc: &ExecutableDocument, name: Option<&str>) -> Option<OperationType> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => Some(op.node.ty),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// The response keys of `set` (aliases or names), in selection order, through fragments;
/// `spread` holds the fragments already entered, so that each is walked once (a validated
/// document has no cycle; this keeps the walk linear whatever the document).
fn response_keys<'a>(
    doc: &'a ExecutableDocument,
    set: &'a SelectionSet,
    order: &mut Vec<&'a Name>,
    spread: &mut Vec<&'a Name>,
) {
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                order.push(&field.response_key().node);
            }
            Selection::InlineFragment(fragment) => {
                response_keys(doc, &fragment.node.selection_set.node, order, spread);
            }
            Selection::FragmentSpread(fragment) => {
                let name = &fragment.node.fragment_name.node;
                if spread.contains(&name) {
                    continue;
                }
                spread.push(name);
                if let Some(definition) = doc.fragments.get(name) {
                    response_keys(doc, &definition.node.selection_set.node, order, spread);
                }
            }
        }
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

/// The parse step as an async-graphql extension: it takes the document the entrypoint prepared
/// (or prepares it, for a request executed directly), and keeps it once it validates.
pub struct ParseCache {
    parser: Parser,
}

impl ParseCache {
    pub fn new(parser: Parser) -> Self {
        ParseCache { parser }
    }
}

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ParseStep {
            parser: self.parser.clone(),
            this_request: Mutex::new(None),
        })
    }
}

/// The extension of one request.
struct ParseStep {
    parser: Parser,
    this_request: Mutex<Option<Arc<Prepared>>>,
}

impl ParseStep {
    fn this_request(&self) -> std::sync::MutexGuard<'_, Option<Arc<Prepared>>> {
        // Nothing can panic while the slot is held: a poisoned lock still holds a good value.
        self.this_request
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
        let prepared = request
            .data
            .get(&TypeId::of::<Arc<Prepared>>())
            .and_then(|p| p.downcast_ref::<Arc<Prepared>>())
            .cloned();
        let prepared = match prepared {
            Some(prepared) => prepared,
            None => self.parser.prepare(&mut request)?,
        };
        *self.this_request() = Some(prepared);
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let prepared = self.this_request().clone();
        match prepared {
            Some(prepared) => Ok(prepared.parsed.doc.clone()),
            // Not prepared: never the case, as prepare_request runs first.
            None => next.run(ctx, query, variables).await,
        }
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if let Some(prepared) = self.this_request().take() {
            self.parser.keep(&prepared);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(query: &str, name: Option<&str>) -> ServerResult<Arc<Prepared>> {
        let mut request = Request::new(query);
        if let Some(name) = name {
            request = request.operation_name(name);
        }
        Parser::default().prepare(&mut request)
    }

    #[test]
    fn the_operation_type_is_told_when_it_can_be() {
        let kind =
            |q: &str, name: Option<&str>| prepared(q, name).ok().and_then(|p| p.is_subscription());
        assert_eq!(
            kind("subscription { onCreateTrainer { id } }", None),
            Some(true)
        );
        assert_eq!(kind("{ a }", None), Some(false));
        assert_eq!(kind("query A { a } query B { b }", None), None);
        assert_eq!(
            kind("query A { a } subscription B { b }", Some("B")),
            Some(true)
        );
        assert_eq!(kind("query A { a } subscription B { b }", Some("C")), None);
        assert_eq!(kind("{ a }", Some("A")), None);
        assert!(prepared("{", None).is_err());
    }

    #[test]
    fn the_length_is_checked_before_the_text_is_parsed() {
        // Not even a document: refused for its length, not for its syntax.
        let long = "{".repeat(limits::MAX_QUERY_BYTES + 1);
        let refused = prepared(&long, None).err().expect("refused");
        assert!(
            refused.message.contains("limit is 64 KiB"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn the_bounds_apply_to_every_operation_type() {
        let wide = |ty: &str| {
            let fields: Vec<String> = (0..51).map(|n| format!("a{n}: __typename")).collect();
            format!("{ty} {{ {} }}", fields.join(" "))
        };
        for ty in ["query", "mutation", "subscription"] {
            let refused = prepared(&wide(ty), None).err().expect("refused");
            assert!(
                refused.message.contains("selects 51"),
                "{ty}: {}",
                refused.message
            );
        }
    }
}

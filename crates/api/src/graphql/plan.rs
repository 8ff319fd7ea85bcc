//! Reads planned once: the fast path of the queries clients send again and again.
//!
//! A document that the parse step has already seen validate (it came from the cache) and that
//! is a plain read (`getTrainer`, `allTrainers` or `trainersBySpecialty` without a filter or key
//! condition, plain fields and aliases, `__typename`, variables of exactly the arguments' types,
//! no fragment or directive) is compiled once into a [`Plan`]: its root fields, where each
//! argument comes from, and the fields each object selects. Running a plan calls the service as
//! the resolvers do and writes the response's JSON directly, in selection order, skipping
//! async-graphql's per-request validation, its per-field futures and the value tree (a fifth of
//! a getTrainer's CPU and more of a page's, by perf under load).
//!
//! A plan answers only what it is sure to answer as the general path does, byte for byte:
//! anything else (a variable of another type, a value the general path would coerce or refuse,
//! any error of the service) makes [`Plan::run`] answer `None`, and the general path runs the
//! request from the start. Reads change nothing, so running one twice is harmless. The
//! differential tests (`crates/conformance/tests/fast_path.rs`) run every case of the GraphQL
//! suite and random selections through both paths and compare the bytes.

use std::io::Write;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
    Selection, SelectionSet, Type,
};
use async_graphql::{InputType, Name, Request, Value, ID};
use async_graphql_value::Value as Literal;
use trainers_core::service::{BySpecialtyRequest, ListRequest};
use trainers_core::{Page, SortDirection, Trainer, TrainerService};

use super::inputs::ModelSortDirection;
use super::types::Specialty;

/// A read compiled once (see the module's documentation).
#[derive(Debug)]
pub struct Plan {
    /// The operation's name, when it has one: a request naming another one is not planned.
    name: Option<Name>,
    roots: Vec<Root>,
}

#[derive(Debug)]
struct Root {
    key: Name,
    read: Read,
}

#[derive(Debug)]
enum Read {
    Get {
        id: Arg,
        fields: Vec<(Name, TrainerField)>,
    },
    List {
        limit: Arg,
        next_token: Arg,
        specialty: Arg,
        fields: Vec<(Name, PageField)>,
    },
    BySpecialty {
        specialty: Arg,
        sort_direction: Arg,
        limit: Arg,
        next_token: Arg,
        fields: Vec<(Name, PageField)>,
    },
}

/// Where an argument's value comes from.
#[derive(Debug)]
enum Arg {
    Absent,
    /// A literal, converted once.
    Literal(Value),
    /// A variable, and whether it is declared non-null (then it must be given, and not null).
    Variable(Name, bool),
}

#[derive(Debug)]
enum PageField {
    Items(Vec<(Name, TrainerField)>),
    NextToken,
    Typename,
}

#[derive(Clone, Copy, Debug)]
enum TrainerField {
    Id,
    FirstName,
    LastName,
    Age,
    Specialty,
    CreatedAt,
    UpdatedAt,
    Version,
    Owner,
    Typename,
}

/// The argument types a plan reads, as the schema declares them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Id,
    Int,
    String,
    Specialty,
    SortDirection,
}

impl Kind {
    /// Whether `value` coerces to this type, by the schema's own coercion.
    fn accepts(self, value: &Value) -> bool {
        let value = Some(value.clone());
        match self {
            Kind::Id => ID::parse(value).is_ok(),
            Kind::Int => i32::parse(value).is_ok(),
            Kind::String => String::parse(value).is_ok(),
            Kind::Specialty => Specialty::parse(value).is_ok(),
            Kind::SortDirection => ModelSortDirection::parse(value).is_ok(),
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Kind::Id => "ID",
            Kind::Int => "Int",
            Kind::String => "String",
            Kind::Specialty => "Specialty",
            Kind::SortDirection => "ModelSortDirection",
        }
    }
}

impl Plan {
    /// The plan of `doc`, when it is a read this module plans.
    pub fn compile(doc: &ExecutableDocument) -> Option<Plan> {
        if !doc.fragments.is_empty() {
            return None;
        }
        let (name, operation) = match &doc.operations {
            DocumentOperations::Single(op) => (None, &op.node),
            DocumentOperations::Multiple(ops) if ops.len() == 1 => {
                let (name, op) = ops.iter().next()?;
                (Some(name.clone()), &op.node)
            }
            DocumentOperations::Multiple(_) => return None,
        };
        if operation.ty != OperationType::Query || !operation.directives.is_empty() {
            return None;
        }
        let mut compiler = Compiler {
            operation,
            used: Vec::new(),
        };
        let mut roots = Vec::new();
        for field in fields(&operation.selection_set.node)? {
            let read = compiler.root(field)?;
            roots.push(Root {
                key: field.response_key().node.clone(),
                read,
            });
        }
        // Every variable defined is used (else the document does not validate), none twice
        // in a way this module would have to reconcile.
        let defined = operation.variable_definitions.len();
        if compiler.used.len() != defined
            || roots.is_empty()
            || operation
                .variable_definitions
                .iter()
                .any(|d| d.node.default_value.is_some() || !d.node.directives.is_empty())
        {
            return None;
        }
        Some(Plan { name, roots })
    }

    /// Runs the plan for `request`: the response's JSON (`{"data":{…}}`), written as the
    /// general path writes it, or `None` when the general path must answer.
    pub async fn run(&self, service: &TrainerService, request: &Request) -> Option<Vec<u8>> {
        match (&request.operation_name, &self.name) {
            (None, _) => {}
            (Some(asked), Some(name)) if asked.as_str() == name.as_str() => {}
            (Some(_), _) => return None,
        }
        let vars = Vars(request);
        let mut out = Json(Vec::with_capacity(1024));
        out.raw(b"{\"data\":{");
        for (i, root) in self.roots.iter().enumerate() {
            if i > 0 {
                out.raw(b",");
            }
            out.key(&root.key);
            match &root.read {
                Read::Get { id, fields } => {
                    let id: ID = vars.get(id)?;
                    match service.get(&id).await.ok()? {
                        Some(t) => trainer(&mut out, &t, fields),
                        None => out.raw(b"null"),
                    }
                }
                Read::List {
                    limit,
                    next_token,
                    specialty,
                    fields,
                } => {
                    let req = ListRequest {
                        limit: vars.get(limit)?,
                        next_token: vars.get(next_token)?,
                        specialty: vars.get::<Option<Specialty>>(specialty)?.map(Into::into),
                        filter: None,
                    };
                    page(&mut out, &service.list(req).await.ok()?, fields)
                }
                Read::BySpecialty {
                    specialty,
                    sort_direction,
                    limit,
                    next_token,
                    fields,
                } => {
                    let req = BySpecialtyRequest {
                        specialty: vars.get::<Specialty>(specialty)?.into(),
                        last_name: None,
                        direction: vars
                            .get::<Option<ModelSortDirection>>(sort_direction)?
                            .map_or_else(SortDirection::default, Into::into),
                        filter: None,
                        limit: vars.get(limit)?,
                        next_token: vars.get(next_token)?,
                    };
                    page(&mut out, &service.by_specialty(req).await.ok()?, fields)
                }
            }
        }
        out.raw(b"}}");
        Some(out.0)
    }
}

/// The plain fields of a selection set: `None` when it holds a fragment, a directive, or two
/// fields under one response key.
fn fields(set: &SelectionSet) -> Option<Vec<&Field>> {
    let mut out: Vec<&Field> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field = &field.node;
        if !field.directives.is_empty()
            || out
                .iter()
                .any(|f| f.response_key().node == field.response_key().node)
        {
            return None;
        }
        out.push(field);
    }
    Some(out)
}

struct Compiler<'a> {
    operation: &'a OperationDefinition,
    used: Vec<Name>,
}

impl Compiler<'_> {
    fn root(&mut self, field: &Field) -> Option<Read> {
        let set = &field.selection_set.node;
        match field.name.node.as_str() {
            "getTrainer" => {
                let mut args = self.args(field, &[("id", Kind::Id, true)])?.into_iter();
                Some(Read::Get {
                    id: args.next()?,
                    fields: trainer_fields(set)?,
                })
            }
            "allTrainers" => {
                let spec = [
                    ("limit", Kind::Int, false),
                    ("nextToken", Kind::String, false),
                    ("specialty", Kind::Specialty, false),
                ];
                let mut args = self.args(field, &spec)?.into_iter();
                Some(Read::List {
                    limit: args.next()?,
                    next_token: args.next()?,
                    specialty: args.next()?,
                    fields: page_fields(set)?,
                })
            }
            "trainersBySpecialty" => {
                let spec = [
                    ("specialty", Kind::Specialty, true),
                    ("sortDirection", Kind::SortDirection, false),
                    ("limit", Kind::Int, false),
                    ("nextToken", Kind::String, false),
                ];
                let mut args = self.args(field, &spec)?.into_iter();
                Some(Read::BySpecialty {
                    specialty: args.next()?,
                    sort_direction: args.next()?,
                    limit: args.next()?,
                    next_token: args.next()?,
                    fields: page_fields(set)?,
                })
            }
            _ => None,
        }
    }

    /// The field's arguments in the order of `spec` (name, type, required): `None` when it has
    /// another argument, one twice, a required one missing, a literal of another type, or a
    /// variable not declared with exactly the argument's type.
    fn args(&mut self, field: &Field, spec: &[(&str, Kind, bool)]) -> Option<Vec<Arg>> {
        if field.arguments.iter().enumerate().any(|(i, (n, _))| {
            field.arguments[..i].iter().any(|(m, _)| m.node == n.node)
                || !spec.iter().any(|(name, _, _)| n.node == *name)
        }) {
            return None;
        }
        let mut out = Vec::with_capacity(spec.len());
        for &(name, kind, required) in spec {
            let given = field.arguments.iter().find(|(n, _)| n.node == name);
            let arg = match given.map(|(_, v)| &v.node) {
                None if required => return None,
                None => Arg::Absent,
                Some(Literal::Variable(var)) => {
                    let def = self
                        .operation
                        .variable_definitions
                        .iter()
                        .find(|d| d.node.name.node == *var)?;
                    let ty = &def.node.var_type.node;
                    if !declared_as(ty, kind, required) {
                        return None;
                    }
                    if !self.used.contains(var) {
                        self.used.push(var.clone());
                    }
                    Arg::Variable(var.clone(), !ty.nullable)
                }
                Some(Literal::Null) if required => return None,
                // Null and absent are one to these arguments (all optional but the required).
                Some(Literal::Null) => Arg::Absent,
                Some(literal) => {
                    let value = literal.clone().into_const()?;
                    if !kind.accepts(&value) {
                        return None;
                    }
                    Arg::Literal(value)
                }
            };
            out.push(arg);
        }
        Some(out)
    }
}

/// Whether a variable of type `ty` may stand for an argument of `kind` (non-null if `required`)
/// with no coercion: the same named type, non-null where the argument is.
fn declared_as(ty: &Type, kind: Kind, required: bool) -> bool {
    matches!(&ty.base, BaseType::Named(name) if name.as_str() == kind.type_name())
        && !(required && ty.nullable)
}

fn trainer_fields(set: &SelectionSet) -> Option<Vec<(Name, TrainerField)>> {
    if set.items.is_empty() {
        return None;
    }
    fields(set)?
        .into_iter()
        .map(|f| {
            if !f.arguments.is_empty() || !f.selection_set.node.items.is_empty() {
                return None;
            }
            let field = match f.name.node.as_str() {
                "id" => TrainerField::Id,
                "firstName" => TrainerField::FirstName,
                "lastName" => TrainerField::LastName,
                "age" => TrainerField::Age,
                "specialty" => TrainerField::Specialty,
                "createdAt" => TrainerField::CreatedAt,
                "updatedAt" => TrainerField::UpdatedAt,
                "version" => TrainerField::Version,
                "owner" => TrainerField::Owner,
                "__typename" => TrainerField::Typename,
                _ => return None,
            };
            Some((f.response_key().node.clone(), field))
        })
        .collect()
}

fn page_fields(set: &SelectionSet) -> Option<Vec<(Name, PageField)>> {
    if set.items.is_empty() {
        return None;
    }
    fields(set)?
        .into_iter()
        .map(|f| {
            if !f.arguments.is_empty() {
                return None;
            }
            let leaf = f.selection_set.node.items.is_empty();
            let field = match f.name.node.as_str() {
                "items" if !leaf => PageField::Items(trainer_fields(&f.selection_set.node)?),
                "nextToken" if leaf => PageField::NextToken,
                "__typename" if leaf => PageField::Typename,
                _ => return None,
            };
            Some((f.response_key().node.clone(), field))
        })
        .collect()
}

/// JSON written as serde_json writes async-graphql's values (the general path's bytes).
struct Json(Vec<u8>);

impl Json {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    fn str(&mut self, s: &str) {
        // serde_json's own escaping; writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.0, s);
    }

    fn key(&mut self, key: &Name) {
        self.str(key.as_str());
        self.raw(b":");
    }

    fn int(&mut self, n: i64) {
        let _ = write!(self.0, "{n}");
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.raw(b"null"),
        }
    }
}

/// A trainer's selected fields, as the `Trainers` type resolves them.
fn trainer(out: &mut Json, t: &Trainer, fields: &[(Name, TrainerField)]) {
    out.raw(b"{");
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.raw(b",");
        }
        out.key(key);
        match field {
            TrainerField::Id => out.str(t.id.as_str()),
            TrainerField::FirstName => out.str(&t.first_name),
            TrainerField::LastName => out.str(&t.last_name),
            TrainerField::Age => out.int(i64::from(t.age)),
            TrainerField::Specialty => out.opt_str(t.specialty.map(specialty_name)),
            TrainerField::CreatedAt => out.str(&t.created_at.to_rfc3339()),
            TrainerField::UpdatedAt => out.str(&t.updated_at.to_rfc3339()),
            TrainerField::Version => {
                out.int(i64::from(i32::try_from(t.version).unwrap_or(i32::MAX)))
            }
            TrainerField::Owner => out.opt_str(t.owner.as_ref().map(|o| o.as_str())),
            TrainerField::Typename => out.str("Trainers"),
        }
    }
    out.raw(b"}");
}

/// The GraphQL name of a specialty, as the `Specialty` enum writes it.
fn specialty_name(s: trainers_core::Specialty) -> &'static str {
    match Specialty::from(s) {
        Specialty::Bodybuilding => "BODYBUILDING",
        Specialty::Youthfitness => "YOUTHFITNESS",
        Specialty::Seniorfitness => "SENIORFITNESS",
        Specialty::Correctiveexercise => "CORRECTIVEEXERCISE",
    }
}

/// A page's selected fields, as the `PaginatedTrainers` type resolves them.
fn page(out: &mut Json, p: &Page, fields: &[(Name, PageField)]) {
    out.raw(b"{");
    for (i, (key, field)) in fields.iter().enumerate() {
        if i > 0 {
            out.raw(b",");
        }
        out.key(key);
        match field {
            PageField::Items(fields) => {
                out.raw(b"[");
                for (j, t) in p.items.iter().enumerate() {
                    if j > 0 {
                        out.raw(b",");
                    }
                    trainer(out, t, fields);
                }
                out.raw(b"]");
            }
            PageField::NextToken => out.opt_str(p.next_token.as_deref()),
            PageField::Typename => out.str("PaginatedTrainers"),
        }
    }
    out.raw(b"}");
}

/// A request's variables, read as the resolvers receive them.
struct Vars<'a>(&'a Request);

impl Vars<'_> {
    /// The argument, coerced as the schema coerces it (`Option<T>` for an optional one): `None`
    /// when it does not coerce, or a non-null variable is missing or null, where the general path
    /// answers an error.
    fn get<T: InputType>(&self, arg: &Arg) -> Option<T> {
        let value = match arg {
            Arg::Absent => None,
            Arg::Literal(value) => Some(value.clone()),
            Arg::Variable(name, non_null) => match self.0.variables.get(name) {
                None | Some(Value::Null) if *non_null => return None,
                given => given.cloned(),
            },
        };
        T::parse(value).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(query: &str) -> Option<Plan> {
        let doc = async_graphql::parser::parse_query(query).expect("parses");
        Plan::compile(&doc)
    }

    #[test]
    fn the_reads_clients_send_are_planned() {
        for query in [
            "query($id: ID!) { getTrainer(id: $id) { id firstName lastName age specialty version } }",
            "query Get($id: ID!) { getTrainer(id: $id) { __typename id createdAt updatedAt owner } }",
            "{ allTrainers(limit: 20) { items { id firstName } nextToken } }",
            "query($t: String, $l: Int) { allTrainers(limit: $l, nextToken: $t) { items { id } nextToken __typename } }",
            "{ a: getTrainer(id: \"x\") { id } b: allTrainers(specialty: BODYBUILDING) { nextToken } }",
            // an Int literal is an ID, as the schema coerces it
            "{ getTrainer(id: 5) { id } }",
            "query($s: Specialty!) { trainersBySpecialty(specialty: $s, sortDirection: DESC, limit: 5) { items { lastName } } }",
        ] {
            assert!(plan(query).is_some(), "{query}");
        }
    }

    #[test]
    fn anything_else_is_left_to_the_general_path() {
        for query in [
            // a mutation, a filter, a fragment, a directive, a field twice, an unknown field
            "mutation { deleteTrainer(id: \"x\") { id } }",
            "{ allTrainers(filter: { age: { gt: 3 } }) { nextToken } }",
            "{ getTrainer(id: \"x\") { ...F } } fragment F on Trainers { id }",
            "query($s: Boolean!) { getTrainer(id: \"x\") { id @include(if: $s) } }",
            "{ getTrainer(id: \"x\") { id id } }",
            "{ getTrainer(id: \"x\") { id nickname } }",
            // variables of another type than the argument's, unused, or with defaults
            "query($id: String!) { getTrainer(id: $id) { id } }",
            "query($id: ID) { getTrainer(id: $id) { id } }",
            "query($id: ID!, $x: Int) { getTrainer(id: $id) { id } }",
            "query($l: Int = 5) { allTrainers(limit: $l) { nextToken } }",
            // literals of another type, a required argument missing, counts
            "{ allTrainers(limit: \"5\") { nextToken } }",
            "{ trainersBySpecialty { nextToken } }",
            "{ countTrainers }",
            "{ getTrainer(id: \"x\") }",
            "{ allTrainers { items } }",
            "{ __typename getTrainer(id: \"x\") { id } }",
            "query A { getTrainer(id: \"x\") { id } } query B { getTrainer(id: \"y\") { id } }",
        ] {
            assert!(plan(query).is_none(), "{query}");
        }
    }
}

//! The AppSync direct Lambda resolver of the Trainers API.
//!
//! [`handle`] takes one AppSync direct-resolver event (or, for AppSync's batch invoke, an array
//! of them), runs the operation named by `info.parentTypeName` and `info.fieldName` on the
//! [`TrainerService`], and answers `{"data": ..., "errorType": ..., "errorMessage": ...}`.
//!
//! AppSync replaces the error type of an error a Lambda raises with `Lambda:Unhandled`, so the
//! function never fails: it returns the contract's `errorType` beside `data`, and the resolver's
//! APPSYNC_JS response handler (`infra/resolvers/trainers.js`) raises
//! `util.error(errorMessage, errorType)` when one is set.
//!
//! Who calls is the event's `identity`, as AppSync verified it ([`caller`]): none for the API
//! key, a user for Cognito user pools or OpenID Connect; the service's [`trainers_core::AccessPolicy`]
//! decides what each may change.

use futures::future::join_all;
use serde_json::{json, Map, Value};
use trainers_core::service::{BySpecialtyRequest, CreateRequest, ListRequest, UpdateRequest};
use trainers_core::{
    AccessPolicy, Caller, Error, Filter, FilterKind, KeyCondition, SortDirection, Specialty,
    TokenSecret, Trainer, TrainerService, User,
};
use trainers_store_dynamodb::TOKEN_SECRET_ENV;

/// The message of an `InternalFailure`: it says nothing of the internals; the log says all.
pub const INTERNAL_MESSAGE: &str = "An internal error occurred";

/// The environment variable naming the table that keeps the page-token secret (set by the stack).
pub const KEYS_TABLE_ENV: &str = "TRAINERS_KEYS_TABLE";

/// The key that signs the function's page tokens: derived from `secret` when one is given (as
/// `trainers serve --token-secret` does); else the random secret kept in `keys_table` at
/// `secret#page-token` (one consistent read; put there by whichever of the function and the
/// servers on the table asks first), so that nobody can forge a token and a server on the same
/// table accepts the function's tokens; else, with neither (a function run by hand), a key
/// derived from the table's name, which anyone who knows the name can derive too.
pub async fn token_key(
    client: &trainers_store_dynamodb::Client,
    table: &str,
    secret: Option<&TokenSecret>,
    keys_table: Option<&str>,
) -> Result<trainers_core::TokenKey, trainers_core::StoreError> {
    match (secret, keys_table.filter(|t| !t.is_empty())) {
        (Some(secret), _) => Ok(trainers_store_dynamodb::token_key_from_secret(
            secret.expose(),
        )),
        (None, Some(keys_table)) => {
            trainers_store_dynamodb::DynamoKeys::new(client.clone(), keys_table)
                .page_token_key()
                .await
        }
        (None, None) => {
            tracing::warn!(
                table,
                "no TRAINERS_TOKEN_SECRET and no TRAINERS_KEYS_TABLE: page tokens are signed with a key derived from the table's name"
            );
            use trainers_core::TrainerStore;
            Ok(trainers_store_dynamodb::DynamoStore::new(client.clone(), table, None).token_key())
        }
    }
}

/// The function's page-token secret, from the value of `TRAINERS_TOKEN_SECRET` (`None`: unset
/// or empty): a short one is refused, in a message that never shows it, and the function does
/// not start.
pub fn token_secret(value: Option<&str>) -> Result<Option<TokenSecret>, String> {
    match value {
        None => Ok(None),
        Some(value) => {
            TokenSecret::parse(value).map_err(|e| format!("{TOKEN_SECRET_ENV} is refused: {e}"))
        }
    }
}

/// The environment variable that turns owner rules on: `owners` (set by the stack when it has a
/// Cognito user pool) or `open` (the default: the API key may do everything, as in the tutorial).
pub const ACCESS_ENV: &str = "TRAINERS_ACCESS";

/// The environment variable naming the group whose members may change every trainer.
pub const ADMIN_GROUP_ENV: &str = "TRAINERS_ADMIN_GROUP";

/// The rules for mutations, from the values of [`ACCESS_ENV`] and [`ADMIN_GROUP_ENV`] (`None`:
/// unset). Anything but `open` or `owners`, or an admin group without owner rules, stops the
/// function in one line: a typo must not leave every trainer open.
pub fn access_policy(
    access: Option<&str>,
    admin_group: Option<&str>,
) -> Result<AccessPolicy, String> {
    let admin_group = admin_group
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string);
    match access.map(str::trim).unwrap_or_default() {
        "owners" => Ok(AccessPolicy::Owners { admin_group }),
        "" | "open" if admin_group.is_none() => Ok(AccessPolicy::Open),
        "" | "open" => Err(format!(
            "{ADMIN_GROUP_ENV} is set but {ACCESS_ENV} is not `owners`: set {ACCESS_ENV}=owners for owner rules"
        )),
        other => Err(format!(
            "{ACCESS_ENV} must be `open` or `owners`, not {other:?}"
        )),
    }
}

/// Who an event's `identity` says is calling. AppSync has verified it: `null` (the API key, or
/// IAM) is [`Caller::ApiKey`]; a Cognito user pool's or OpenID Connect issuer's identity is the
/// user its `sub` names, with the username `username` (or the claims' `cognito:username`,
/// `username`, `preferred_username`, else the `sub`) and the groups `groups` (or the claims'
/// `cognito:groups`). An identity without a usable `sub` (none, empty, or with a `:`, which
/// could pass for another's `"<sub>::<username>"` owner) is no user: the API key's rights.
pub fn caller(identity: &Value) -> Caller {
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    let Some(sub) = text(&identity["sub"]).filter(|s| !s.contains(':')) else {
        return Caller::ApiKey;
    };
    let claims = &identity["claims"];
    let username = text(&identity["username"])
        .or_else(|| text(&claims["cognito:username"]))
        .or_else(|| text(&claims["username"]))
        .or_else(|| text(&claims["preferred_username"]))
        .unwrap_or_else(|| sub.clone());
    let groups = [&identity["groups"], &claims["cognito:groups"]]
        .into_iter()
        .find_map(Value::as_array)
        .map(|gs| gs.iter().filter_map(text).collect())
        .unwrap_or_default();
    Caller::User(User {
        sub,
        username,
        groups,
    })
}

/// Handles one event, or a batch (an array of events) into an array of results in order.
pub async fn handle(service: &TrainerService, event: Value) -> Value {
    match event {
        Value::Array(events) => {
            Value::Array(join_all(events.into_iter().map(|e| handle_one(service, e))).await)
        }
        event => handle_one(service, event).await,
    }
}

/// What one event answers, as the response handler reads it.
async fn handle_one(service: &TrainerService, event: Value) -> Value {
    let info = &event["info"];
    let parent = info["parentTypeName"].as_str().unwrap_or_default();
    let field = info["fieldName"].as_str().unwrap_or_default();
    let empty = Map::new();
    let args = Args(event["arguments"].as_object().unwrap_or(&empty));
    let who = caller(&event["identity"]);
    let result = match (parent, field) {
        ("Query", "getTrainer") => get_trainer(service, &args).await,
        ("Query", "allTrainers") => all_trainers(service, &args).await,
        ("Query", "trainersBySpecialty") => trainers_by_specialty(service, &args).await,
        ("Query", "countTrainers") => count_trainers(service, &args).await,
        ("Mutation", "createTrainer") => create_trainer(service, &who, &args).await,
        ("Mutation", "updateTrainers") => update_trainers(service, &who, &args).await,
        ("Mutation", "deleteTrainer") => delete_trainer(service, &who, &args).await,
        _ => {
            tracing::error!(
                parent,
                field,
                "an event for a field this function does not resolve"
            );
            Err(Error::internal(format!("no resolver for {parent}.{field}")))
        }
    };
    match result {
        Ok(data) => json!({ "data": data, "errorType": null, "errorMessage": null }),
        // An internal failure's cause was logged where it arose.
        Err(e) => json!({
            "data": null,
            "errorType": e.error_type().as_str(),
            "errorMessage": e.to_string(),
        }),
    }
}

/// The `arguments` of an event. An argument that is absent was not given; one that is present
/// and null was given as null (which, for `updateTrainers`' `specialty`, clears it).
struct Args<'a>(&'a Map<String, Value>);

impl Args<'_> {
    /// `None` absent, `Some(None)` null, `Some(Some(v))` a value.
    fn given<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Result<Option<Option<T>>, Error> {
        match self.0.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(v) => read(v)
                .map(|t| Some(Some(t)))
                .ok_or_else(|| Error::validation(name, format!("{name} must be {expected}"))),
        }
    }

    fn optional<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, Error> {
        Ok(self.given(name, read, expected)?.flatten())
    }

    fn required<T>(
        &self,
        name: &'static str,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Result<T, Error> {
        self.optional(name, read, expected)?
            .ok_or_else(|| Error::validation(name, format!("{name} is required")))
    }

    fn string(&self, name: &'static str) -> Result<String, Error> {
        self.required(name, read_string, "a string")
    }

    fn int(&self, name: &'static str) -> Result<Option<i32>, Error> {
        self.optional(name, read_int, "a 32-bit integer")
    }

    fn specialty(&self) -> Result<Option<Option<Specialty>>, Error> {
        self.given("specialty", read_specialty, "a Specialty")
    }

    /// A filter or condition, parsed by the core's model as the local server parses it.
    fn filter(&self, name: &'static str, kind: FilterKind) -> Result<Option<Filter>, Error> {
        Filter::parse(kind, self.0.get(name).unwrap_or(&Value::Null))
    }
}

fn read_string(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn read_int(v: &Value) -> Option<i32> {
    v.as_i64().and_then(|n| i32::try_from(n).ok())
}

fn read_specialty(v: &Value) -> Option<Specialty> {
    v.as_str().and_then(|s| s.parse().ok())
}

fn trainer_json(t: &Trainer) -> Result<Value, Error> {
    serde_json::to_value(t).map_err(Error::internal)
}

async fn get_trainer(service: &TrainerService, args: &Args<'_>) -> Result<Value, Error> {
    let id = args.string("id")?;
    match service.get(&id).await? {
        Some(t) => trainer_json(&t),
        None => Ok(Value::Null),
    }
}

async fn all_trainers(service: &TrainerService, args: &Args<'_>) -> Result<Value, Error> {
    let req = ListRequest {
        limit: args.int("limit")?,
        next_token: args.optional("nextToken", read_string, "a string")?,
        specialty: args.specialty()?.flatten(),
        filter: args.filter("filter", FilterKind::List)?,
    };
    page_json(service.list(req).await?)
}

fn page_json(page: trainers_core::Page) -> Result<Value, Error> {
    let items = page
        .items
        .iter()
        .map(trainer_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "items": items, "nextToken": page.next_token }))
}

async fn trainers_by_specialty(service: &TrainerService, args: &Args<'_>) -> Result<Value, Error> {
    let direction = match args.optional("sortDirection", read_string, "ASC or DESC")? {
        None => SortDirection::Asc,
        Some(d) if d == "ASC" => SortDirection::Asc,
        Some(d) if d == "DESC" => SortDirection::Desc,
        Some(_) => {
            return Err(Error::validation(
                "sortDirection",
                "sortDirection must be ASC or DESC",
            ))
        }
    };
    let req = BySpecialtyRequest {
        specialty: args.required("specialty", read_specialty, "a Specialty")?,
        last_name: KeyCondition::parse(args.0.get("lastName").unwrap_or(&Value::Null))?,
        direction,
        filter: args.filter("filter", FilterKind::List)?,
        limit: args.int("limit")?,
        next_token: args.optional("nextToken", read_string, "a string")?,
    };
    page_json(service.by_specialty(req).await?)
}

async fn count_trainers(service: &TrainerService, args: &Args<'_>) -> Result<Value, Error> {
    let n = service
        .count(args.filter("filter", FilterKind::List)?)
        .await?;
    Ok(json!(n))
}

async fn create_trainer(
    service: &TrainerService,
    who: &Caller,
    args: &Args<'_>,
) -> Result<Value, Error> {
    let req = CreateRequest {
        first_name: args.string("firstName")?,
        last_name: args.string("lastName")?,
        age: args.required("age", read_int, "a 32-bit integer")?,
        specialty: args.specialty()?.flatten(),
    };
    trainer_json(&service.create(who, req).await?)
}

async fn update_trainers(
    service: &TrainerService,
    who: &Caller,
    args: &Args<'_>,
) -> Result<Value, Error> {
    let req = UpdateRequest {
        id: args.string("id")?,
        first_name: args.given("firstName", read_string, "a string")?,
        last_name: args.given("lastName", read_string, "a string")?,
        age: args.given("age", read_int, "a 32-bit integer")?,
        specialty: args.specialty()?,
        expected_version: args.int("expectedVersion")?,
        condition: args.filter("condition", FilterKind::Condition)?,
    };
    trainer_json(&service.update(who, req).await?)
}

async fn delete_trainer(
    service: &TrainerService,
    who: &Caller,
    args: &Args<'_>,
) -> Result<Value, Error> {
    let id = args.string("id")?;
    let expected = args.int("expectedVersion")?;
    let condition = args.filter("condition", FilterKind::Condition)?;
    trainer_json(&service.delete(who, &id, expected, condition).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_policy_is_open_unless_owners_is_asked_for() {
        assert_eq!(access_policy(None, None), Ok(AccessPolicy::Open));
        assert_eq!(
            access_policy(Some("open"), Some(" ")),
            Ok(AccessPolicy::Open)
        );
        assert_eq!(
            access_policy(Some("owners"), Some("Admins")),
            Ok(AccessPolicy::Owners {
                admin_group: Some("Admins".into())
            })
        );
        assert_eq!(
            access_policy(Some("owners"), None),
            Ok(AccessPolicy::Owners { admin_group: None })
        );
        // A typo, or an admin group without owner rules, stops the function.
        assert!(access_policy(Some("owner"), None).is_err());
        assert!(access_policy(None, Some("Admins")).is_err());
    }

    #[test]
    fn an_identity_is_the_user_appsync_verified() {
        // A Cognito user pool identity, as AppSync hands it to a direct Lambda resolver.
        let identity = serde_json::json!({
            "sub": "9a1b", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_X",
            "username": "ana", "claims": {"cognito:groups": ["Admins"]},
            "sourceIp": ["127.0.0.1"], "defaultAuthStrategy": "ALLOW", "groups": ["Admins"],
        });
        assert_eq!(
            caller(&identity),
            Caller::User(User {
                sub: "9a1b".into(),
                username: "ana".into(),
                groups: vec!["Admins".into()],
            })
        );
        // An OIDC identity: no username, the claims' preferred_username.
        let oidc = serde_json::json!({"sub": "u1", "claims": {"preferred_username": "bo"}});
        assert!(matches!(caller(&oidc), Caller::User(u) if u.username == "bo"));
        // The API key (null), and a sub that could pass for another's owner.
        assert_eq!(caller(&Value::Null), Caller::ApiKey);
        assert_eq!(caller(&serde_json::json!({"sub": "a::b"})), Caller::ApiKey);
    }
}

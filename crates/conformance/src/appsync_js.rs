//! The deployed subscription resolver (`infra/resolvers/subscriptions.js`, APPSYNC_JS) run under
//! Node.js, as the simulated AppSync ([`crate::appsync_sim`]) runs it when a subscription starts:
//! its `request` handler, then its `response` handler with the subscription's `ctx.args`.
//!
//! AppSync's `@aws-appsync/utils` is a stand-in: `util.error` stops the resolver with an error
//! (its message and `errorType`), `util.transform.toSubscriptionFilter(filter)` answers
//! `{"toSubscriptionFilter": filter}` (AppSync's conversion into filter groups is not simulated:
//! what matters here is the filter the resolver hands to it), and
//! `extensions.setSubscriptionFilter` records what it receives.
//!
//! Needs `node` on `PATH` (Node.js runs the CDK CLI and the infra tests too). Only `std`,
//! `serde_json` and `tempfile`, so that it can be built and tested on its own.

use std::process::Command;

use serde_json::{json, Value};

/// The resolver the CDK app deploys on every subscription.
pub const SUBSCRIPTIONS_JS: &str = include_str!("../../../infra/resolvers/subscriptions.js");

const UTILS: &str = r#"
export const calls = { toSubscriptionFilter: [], setSubscriptionFilter: [] };
export const util = {
  error(message, errorType) {
    const e = new Error(message);
    e.appsync = { message, errorType: errorType ?? null };
    throw e;
  },
  transform: {
    toSubscriptionFilter(filter, ...more) {
      const given = more.length ? [filter, ...more] : filter;
      calls.toSubscriptionFilter.push(given);
      return { toSubscriptionFilter: given };
    },
  },
};
export const extensions = {
  setSubscriptionFilter(filter) {
    calls.setSubscriptionFilter.push(filter);
  },
};
"#;

const HARNESS: &str = r#"
import { request, response } from './subscriptions.mjs';
import { calls } from '@aws-appsync/utils';
const ctx = JSON.parse(process.argv[2]);
let out;
try {
  const req = request(ctx);
  const returned = response({ ...ctx, result: null });
  out = { request: req ?? null, returned: returned ?? null, ...calls };
} catch (e) {
  if (!e.appsync) throw e;
  out = { error: e.appsync };
}
console.log(JSON.stringify(out));
"#;

/// What one run of the resolver did.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    /// What its `request` handler returned (`{"payload": null}`).
    pub request: Value,
    /// What its `response` handler returned (AppSync ignores it for a subscription).
    pub returned: Value,
    /// The filters handed to `util.transform.toSubscriptionFilter`, in order.
    pub to_subscription_filter: Vec<Value>,
    /// What `extensions.setSubscriptionFilter` received, in order.
    pub set_subscription_filter: Vec<Value>,
}

/// Why a run gave no [`Resolution`].
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// The resolver called `util.error(message, errorType)`: AppSync refuses the subscription.
    AppSync {
        message: String,
        error_type: Option<String>,
    },
    /// Node.js could not run it (missing, or the code failed).
    Run(String),
}

/// The `ctx` AppSync gives a subscription's resolver: the arguments as given, no identity (an
/// API key), no source, `info` with the field.
pub fn subscription_ctx(field: &str, arguments: &Value) -> Value {
    json!({
        "arguments": arguments,
        "args": arguments,
        "identity": null,
        "source": null,
        "info": { "fieldName": field, "parentTypeName": "Subscription" },
        "stash": {},
        "prev": null,
    })
}

/// Runs [`SUBSCRIPTIONS_JS`] on `ctx` under Node.js (blocking: a fresh directory and process).
pub fn run_subscription_resolver(ctx: &Value) -> Result<Resolution, Failure> {
    let run = |what: &str, e: std::io::Error| Failure::Run(format!("{what}: {e}"));
    let dir = tempfile::tempdir().map_err(|e| run("a temporary directory", e))?;
    let utils = dir.path().join("node_modules/@aws-appsync/utils");
    std::fs::create_dir_all(&utils).map_err(|e| run("node_modules", e))?;
    let files = [
        (
            utils.join("package.json"),
            r#"{"name": "@aws-appsync/utils", "type": "module", "main": "index.js"}"#,
        ),
        (utils.join("index.js"), UTILS),
        (dir.path().join("subscriptions.mjs"), SUBSCRIPTIONS_JS),
        (dir.path().join("harness.mjs"), HARNESS),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| run(&path.display().to_string(), e))?;
    }
    let output = Command::new("node")
        .arg("harness.mjs")
        .arg(ctx.to_string())
        .current_dir(dir.path())
        .output()
        .map_err(|e| run("node (Node.js on PATH runs the subscription resolver)", e))?;
    if !output.status.success() {
        return Err(Failure::Run(format!(
            "node exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let out: Value = serde_json::from_slice(&output.stdout).map_err(|e| {
        Failure::Run(format!(
            "not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        ))
    })?;
    if let Some(error) = out.get("error") {
        return Err(Failure::AppSync {
            message: error["message"].as_str().unwrap_or_default().to_string(),
            error_type: error["errorType"].as_str().map(str::to_string),
        });
    }
    let list = |key: &str| out[key].as_array().cloned().unwrap_or_default();
    Ok(Resolution {
        request: out["request"].clone(),
        returned: out["returned"].clone(),
        to_subscription_filter: list("toSubscriptionFilter"),
        set_subscription_filter: list("setSubscriptionFilter"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(arguments: Value) -> Result<Resolution, Failure> {
        run_subscription_resolver(&subscription_ctx("onUpdateTrainer", &arguments))
    }

    #[test]
    fn the_filter_and_the_plain_arguments_are_set_as_one_filter() {
        let filter = json!({ "age": { "gt": 30 }, "or": [{ "firstName": { "eq": "Ann" } }] });
        let r = resolve(json!({ "id": "t-1", "filter": filter })).expect("it runs");
        let anded = json!({ "and": [filter, { "id": { "eq": "t-1" } }] });
        assert_eq!(r.request, json!({ "payload": null }));
        assert_eq!(r.returned, Value::Null);
        assert_eq!(r.to_subscription_filter, vec![anded.clone()]);
        assert_eq!(
            r.set_subscription_filter,
            vec![json!({ "toSubscriptionFilter": anded })]
        );
    }

    #[test]
    fn no_argument_sets_no_filter() {
        let r = resolve(json!({})).expect("it runs");
        assert!(r.to_subscription_filter.is_empty(), "{r:?}");
        assert!(r.set_subscription_filter.is_empty(), "{r:?}");
    }

    #[test]
    fn a_filter_too_deep_is_refused_as_appsync_would() {
        let mut filter = json!({ "age": { "eq": 1 } });
        for _ in 0..9 {
            filter = json!({ "or": [filter] });
        }
        assert_eq!(
            resolve(json!({ "filter": filter })),
            Err(Failure::AppSync {
                message: "filter is nested more than 8 levels deep (and, or)".into(),
                error_type: Some("ValidationError".into()),
            })
        );
    }
}

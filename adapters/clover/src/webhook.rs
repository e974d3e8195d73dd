//! Clover's thin webhooks.
//!
//! Clover posts `{"appId":"...","merchants":{"<mId>":[{"objectId":"I:<itemId>",
//! "type":"CREATE"|"UPDATE"|"DELETE","ts":<epoch ms>}]}}` with the app's
//! static auth code in `X-Clover-Auth`. Only the ids travel: a deleted item is
//! a `delete` change, a created or updated item is fetched and mapped. When a
//! URL is registered, Clover first posts `{"verificationCode":"..."}` without
//! the header; the code must reach the operator, who pastes it into Clover's
//! developer dashboard.

use crate::config::{Settings, clover_id_ok};
use crate::item::map_item;
use snapact_adapter_sdk::json::{Node, Value};
use snapact_adapter_sdk::{
    AdapterError, Change, Deletion, ErrorDetail, Mapped, Rejection, invalid_input,
};
use std::collections::HashSet;

/// The header that carries Clover's auth code (lower case, as the host gives headers).
pub const AUTH_HEADER: &str = "x-clover-auth";

/// The `objectId` prefix of inventory items.
const ITEM_PREFIX: &str = "I";

/// What a notification asks for, in the order Clover reported it.
#[derive(Debug, Default)]
pub struct Plan {
    /// One step per item, the item's last event deciding.
    pub steps: Vec<Step>,
    /// Updates that could not be read.
    pub rejected: Vec<Rejection>,
    /// Events for other merchants or other kinds of object.
    pub ignored: usize,
}

/// What to do for one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The item was deleted.
    Delete {
        /// Clover item id.
        id: String,
        /// The event's `ts`.
        version: Option<String>,
    },
    /// The item was created or updated: fetch it.
    Fetch {
        /// Clover item id.
        id: String,
        /// The event's `ts`, used if the item turns out to be gone.
        version: Option<String>,
    },
}

/// The code of a verification body, or `None` for any other body.
pub fn verification_code(root: &Node) -> Result<Option<String>, AdapterError> {
    let Some(node) = root.get("verificationCode") else {
        return Ok(None);
    };
    let code = node.str()?;
    // The code is logged: keep it to the UUID alphabet so a forged body
    // cannot write arbitrary text into the operator's log.
    if code.is_empty()
        || code.len() > 100
        || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid_input(
            node.path(),
            "verificationCode must be letters, digits and dashes (a UUID)",
        ));
    }
    Ok(Some(code.to_string()))
}

/// Read a notification for merchant `merchant_id`.
pub fn plan(root: &Node, merchant_id: &str) -> Result<Plan, AdapterError> {
    let merchants = root.req("merchants")?;
    let Some(map) = merchants.value.as_object() else {
        return Err(merchants
            .error("expected an object of merchant id -> updates")
            .into());
    };
    let mut plan = Plan::default();
    for (mid, updates) in map {
        if mid != merchant_id {
            plan.ignored += updates.as_array().map_or(1, Vec::len);
            continue;
        }
        let Some(list) = merchants.get(mid) else {
            continue;
        };
        let updates = match list.array() {
            Ok(updates) => updates,
            Err(detail) => {
                plan.rejected.push(list.reject(None, detail));
                continue;
            }
        };
        for update in &updates {
            match read_update(update) {
                Ok(Some(step)) => plan.steps.push(step),
                Ok(None) => plan.ignored += 1,
                Err((record_id, detail)) => plan.rejected.push(update.reject(record_id, detail)),
            }
        }
    }
    plan.keep_last_per_item();
    Ok(plan)
}

impl Plan {
    /// Keep only the last event per item, in the order of those last events.
    fn keep_last_per_item(&mut self) {
        let mut seen = HashSet::new();
        let mut kept: Vec<Step> = std::mem::take(&mut self.steps)
            .into_iter()
            .rev()
            .filter(|step| seen.insert(step.id().to_string()))
            .collect();
        kept.reverse();
        self.steps = kept;
    }
}

impl Step {
    /// The Clover item id this step is about.
    pub fn id(&self) -> &str {
        match self {
            Step::Delete { id, .. } | Step::Fetch { id, .. } => id,
        }
    }
}

type UpdateError = (Option<String>, ErrorDetail);

fn read_update(update: &Node) -> Result<Option<Step>, UpdateError> {
    let object_node = update.req("objectId").map_err(|d| (None, d))?;
    let object_id = object_node.str().map_err(|d| (None, d))?;
    let Some((prefix, id)) = object_id.split_once(':') else {
        return Err((
            None,
            object_node.error(format!(
                "objectId {object_id:?} is not `<type>:<id>` such as \"I:9J1F7WW503CZW\""
            )),
        ));
    };
    if prefix != ITEM_PREFIX {
        return Ok(None);
    }
    if !clover_id_ok(id) {
        return Err((
            None,
            object_node.error(format!(
                "item id {id:?} is not a Clover id (letters and digits only)"
            )),
        ));
    }
    let with_id = |d: ErrorDetail| (Some(id.to_string()), d);
    let version = update
        .get("ts")
        .map(|n| n.id_string())
        .transpose()
        .map_err(with_id)?;
    let type_node = update.req("type").map_err(with_id)?;
    match type_node.str().map_err(with_id)? {
        "DELETE" => Ok(Some(Step::Delete {
            id: id.to_string(),
            version,
        })),
        "CREATE" | "UPDATE" => Ok(Some(Step::Fetch {
            id: id.to_string(),
            version,
        })),
        other => Err(with_id(type_node.error(format!(
            "unknown event type {other:?}: expected CREATE, UPDATE or DELETE"
        )))),
    }
}

/// Carry out a plan: deletions as they are, fetched items mapped. `fetch`
/// returns the item's JSON, or `None` when Clover no longer has it (404),
/// which is a deletion too. A failed fetch fails the whole call, so the
/// webhook is answered with an error and nothing is lost.
pub fn resolve(
    plan: Plan,
    settings: &Settings,
    mut fetch: impl FnMut(&str) -> Result<Option<Value>, AdapterError>,
) -> Result<Mapped, AdapterError> {
    let mut mapped = Mapped {
        changes: Vec::with_capacity(plan.steps.len()),
        rejected: plan.rejected,
    };
    for step in plan.steps {
        match step {
            Step::Delete { id, version } => mapped.changes.push(deletion(id, version)),
            Step::Fetch { id, version } => match fetch(&id)? {
                None => mapped.changes.push(deletion(id, version)),
                Some(doc) => {
                    let node = Node::root(&doc);
                    match map_item(&node, settings) {
                        Ok(change) => mapped.changes.push(change),
                        Err(rejection) => mapped.rejected.push(rejection),
                    }
                }
            },
        }
    }
    Ok(mapped)
}

fn deletion(external_ref: String, source_version: Option<String>) -> Change {
    Change::Delete(Deletion {
        external_ref,
        source_version,
    })
}

/// The value of `X-Clover-Auth`, or `unauthenticated` when it is missing.
pub fn auth_header(headers: &[(String, String)]) -> Result<&str, AdapterError> {
    headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(AUTH_HEADER))
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            AdapterError::Unauthenticated(
                "missing X-Clover-Auth header: Clover sends the app's auth code with every notification".into(),
            )
        })
}

//! Reading JSON with field paths in every error.
//!
//! [`Node`] is a borrowed JSON value that knows where it is (`$.objects[3].id`),
//! so every "missing" or "wrong type" error names the exact field.
//!
//! ```
//! use snapact_adapter_sdk::json;
//! let doc = json::parse(br#"{"objects":[{"id":"A","version":7}]}"#).unwrap();
//! let root = json::Node::root(&doc);
//! let first = &root.req("objects").unwrap().array().unwrap()[0];
//! assert_eq!(first.req_str("id").unwrap(), "A");
//! assert_eq!(first.req("version").unwrap().id_string().unwrap(), "7");
//! let err = first.req_str("name").unwrap_err();
//! assert_eq!(err.path.as_deref(), Some("$.objects[0].name"));
//! ```

use crate::{AdapterError, ErrorDetail, Rejection};
pub use serde_json::Value;
use std::sync::Arc;

/// Parse a payload; a payload that is not JSON is `invalid-input` at `$`
/// with serde's line and column.
pub fn parse(payload: &[u8]) -> Result<Value, AdapterError> {
    serde_json::from_slice(payload).map_err(|e| {
        AdapterError::InvalidInput(ErrorDetail {
            message: format!("payload is not valid JSON: {e}"),
            path: Some("$".into()),
        })
    })
}

/// A JSON value and the path that leads to it.
///
/// The path is kept as a chain of borrowed steps (object keys and array
/// indices) and written out only when something asks for it, an error above
/// all: reading a field formats nothing, and only objects and arrays, which
/// can have children, allocate (one shared link each).
#[derive(Clone)]
pub struct Node<'a> {
    /// The value.
    pub value: &'a Value,
    /// The path of the parent, `None` at the root.
    up: Option<Arc<Link<'a>>>,
    /// How this node is reached from its parent.
    step: Step<'a>,
    /// An object's or array's own path, shared by its children.
    own: Option<Arc<Link<'a>>>,
}

/// One step of a path and the path above it.
struct Link<'a> {
    up: Option<Arc<Link<'a>>>,
    step: Step<'a>,
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Root,
    Key(&'a str),
    Index(usize),
}

// Nodes stay `Send + Sync`, as they were when they carried a `String` path.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Node<'static>>();
};

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("value", self.value)
            .field("path", &self.path())
            .finish()
    }
}

impl<'a> Node<'a> {
    /// The document root, at path `$`.
    pub fn root(value: &'a Value) -> Self {
        Self::at(value, None, Step::Root)
    }

    fn at(value: &'a Value, up: Option<Arc<Link<'a>>>, step: Step<'a>) -> Self {
        let own = match value {
            Value::Object(_) | Value::Array(_) => Some(Arc::new(Link {
                up: up.clone(),
                step,
            })),
            _ => None,
        };
        Node {
            value,
            up,
            step,
            own,
        }
    }

    /// A node below this one.
    fn child(&self, value: &'a Value, step: Step<'a>) -> Node<'a> {
        let here = match &self.own {
            Some(own) => own.clone(),
            // Only objects and arrays have children; kept total all the same.
            None => Arc::new(Link {
                up: self.up.clone(),
                step: self.step,
            }),
        };
        Self::at(value, Some(here), step)
    }

    /// Its JSON path: `$` for the root, then `.key` for an object field and
    /// `[i]` for an array element (`$.objects[3].id`).
    pub fn path(&self) -> String {
        let mut steps = vec![self.step];
        let mut up = self.up.as_deref();
        while let Some(link) = up {
            steps.push(link.step);
            up = link.up.as_deref();
        }
        let mut path = String::with_capacity(8 * steps.len());
        for step in steps.iter().rev() {
            match step {
                Step::Root => path.push('$'),
                Step::Key(key) => {
                    path.push('.');
                    path.push_str(key);
                }
                Step::Index(i) => {
                    path.push('[');
                    path.push_str(&i.to_string());
                    path.push(']');
                }
            }
        }
        path
    }

    /// The path of field `key` of this node (present or not), for errors
    /// about a missing or unusable field.
    pub fn field_path(&self, key: &str) -> String {
        let mut path = self.path();
        path.push('.');
        path.push_str(key);
        path
    }

    /// A field, or `None` when absent or `null`.
    pub fn get(&self, key: &str) -> Option<Node<'a>> {
        match self.value.as_object()?.get_key_value(key) {
            None | Some((_, Value::Null)) => None,
            Some((key, v)) => Some(self.child(v, Step::Key(key))),
        }
    }

    /// A field that must be present and not `null`.
    pub fn req(&self, key: &str) -> Result<Node<'a>, ErrorDetail> {
        if !self.value.is_object() {
            return Err(self.error(format!("expected an object, found {}", kind(self.value))));
        }
        self.get(key).ok_or_else(|| ErrorDetail {
            message: format!("missing required field `{key}`"),
            path: Some(self.field_path(key)),
        })
    }

    /// This value as a string.
    pub fn str(&self) -> Result<&'a str, ErrorDetail> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("expected a string, found {}", kind(self.value))))
    }

    /// A required string field.
    pub fn req_str(&self, key: &str) -> Result<&'a str, ErrorDetail> {
        self.req(key)?.str()
    }

    /// An optional string field (absent or `null` is `None`; another type is an error).
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ErrorDetail> {
        self.get(key).map(|n| n.str()).transpose()
    }

    /// An optional boolean field.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ErrorDetail> {
        self.get(key)
            .map(|n| {
                n.value.as_bool().ok_or_else(|| {
                    n.error(format!("expected true or false, found {}", kind(n.value)))
                })
            })
            .transpose()
    }

    /// This value as an integer (a JSON integer, or a string of digits).
    pub fn i64(&self) -> Result<i64, ErrorDetail> {
        match self.value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            self.error(format!(
                "expected an integer, found {}",
                describe(self.value)
            ))
        })
    }

    /// An optional integer field.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, ErrorDetail> {
        self.get(key).map(|n| n.i64()).transpose()
    }

    /// An id as a string, exactly: JSON strings as they are, JSON integers by
    /// their digits (never through a float, so ids above 2^53 survive).
    pub fn id_string(&self) -> Result<String, ErrorDetail> {
        match self.value {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
            _ => Err(self.error(format!(
                "expected an id (string or integer), found {}",
                describe(self.value)
            ))),
        }
    }

    /// A decimal number's exact text: a JSON string as it is, or a JSON
    /// number's literal digits (the SDK parses JSON without floats).
    pub fn decimal_text(&self) -> Result<String, ErrorDetail> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(self.error(format!(
                "expected a decimal number, found {}",
                describe(self.value)
            ))),
        }
    }

    /// This value as an array of nodes.
    pub fn array(&self) -> Result<Vec<Node<'a>>, ErrorDetail> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.error(format!("expected an array, found {}", kind(self.value))))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, v)| self.child(v, Step::Index(i)))
            .collect())
    }

    /// An optional array field (absent or `null` is empty).
    pub fn opt_array(&self, key: &str) -> Result<Vec<Node<'a>>, ErrorDetail> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(n) => n.array(),
        }
    }

    /// An error at this node's path.
    pub fn error(&self, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            message: message.into(),
            path: Some(self.path()),
        }
    }

    /// A rejection of the record at this node, with the record's id when known.
    pub fn reject(&self, record_id: Option<String>, detail: ErrorDetail) -> Rejection {
        Rejection {
            record_id,
            path: detail.path.or_else(|| Some(self.path())),
            message: detail.message,
        }
    }
}

impl From<ErrorDetail> for AdapterError {
    fn from(detail: ErrorDetail) -> Self {
        AdapterError::InvalidInput(detail)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        _ => kind(v).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_field() {
        let doc = parse(br#"{"a":[{"b":1},{"b":"x","big":18446744073709551615,"p":19.99}]}"#)
            .expect("valid json");
        let root = Node::root(&doc);
        let a = root.req("a").expect("a").array().expect("array");
        assert_eq!(a[1].req_str("b").expect("b"), "x");
        let e = a[0].req_str("b").expect_err("number is not a string");
        assert_eq!(e.path.as_deref(), Some("$.a[0].b"));
        assert_eq!(e.message, "expected a string, found a number");
        assert_eq!(
            a[1].req("big").expect("big").id_string().expect("id"),
            "18446744073709551615"
        );
        assert_eq!(
            a[1].req("p").expect("p").decimal_text().expect("dec"),
            "19.99"
        );
        let missing = a[0].req("zzz").expect_err("missing");
        assert_eq!(missing.path.as_deref(), Some("$.a[0].zzz"));
        let not_obj = a[0]
            .req("b")
            .expect("b")
            .req("c")
            .expect_err("not an object");
        assert_eq!(not_obj.path.as_deref(), Some("$.a[0].b"));
    }

    #[test]
    fn paths_are_written_on_demand_and_survive_clones() {
        let doc = parse(br#"{"objects":[{"item_data":{"variations":[{"id":"V"},{"id":7}]}}]}"#)
            .expect("valid json");
        let root = Node::root(&doc);
        assert_eq!(root.path(), "$");
        assert_eq!(root.field_path("objects"), "$.objects");
        let objects = root
            .req("objects")
            .expect("objects")
            .array()
            .expect("array");
        let data = objects[0].req("item_data").expect("item_data");
        let variations = data.opt_array("variations").expect("variations");
        assert_eq!(variations[1].path(), "$.objects[0].item_data.variations[1]");
        // A clone, and a child made from the clone, keep the whole path even
        // when the nodes they came from are gone.
        let second = variations[1].clone();
        drop(variations);
        drop(data);
        drop(objects);
        let id = second.req("id").expect("id");
        assert_eq!(id.path(), "$.objects[0].item_data.variations[1].id");
        let err = id.str().expect_err("a number");
        assert_eq!(
            err.path.as_deref(),
            Some("$.objects[0].item_data.variations[1].id")
        );
        assert_eq!(
            second.field_path("sku"),
            "$.objects[0].item_data.variations[1].sku"
        );
        let rejection = second.reject(None, second.error("bad"));
        assert_eq!(
            rejection.path.as_deref(),
            Some("$.objects[0].item_data.variations[1]")
        );
        assert!(format!("{second:?}").contains("variations[1]"));
    }

    #[test]
    fn unparseable_payload_is_invalid_input_at_root() {
        match parse(b"{\"a\":") {
            Err(AdapterError::InvalidInput(d)) => {
                assert_eq!(d.path.as_deref(), Some("$"));
                assert!(d.message.contains("line 1"), "{}", d.message);
            }
            other => panic!("expected invalid input, got {other:?}"),
        }
    }
}

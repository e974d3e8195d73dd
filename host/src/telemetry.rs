//! Logging setup. Only `main` calls [`init`]; libraries just use `tracing`.
//!
//! Work done for one shop runs inside a span carrying `shop` and `adapter`
//! ([`shop_span`]; the relay, order worker, poller and webhook handlers all
//! do). In text format the span shows as a prefix
//! (`shop{shop=lagos-main adapter=square}:relay{..}: ...`); in JSON format
//! ([`FlatJson`]) the fields of every span around an event are written as
//! top-level keys of its line, so each line about a shop can be filtered by
//! `.shop` and `.adapter` without knowing which task logged it.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Span, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Default filter: our own logs at info, the Wasm compiler quiet.
const DEFAULT_FILTER: &str =
    "info,wasmtime=warn,cranelift=warn,cranelift_codegen=warn,hyper=warn,reqwest=warn";

/// Install the global subscriber. `RUST_LOG` overrides the default filter.
/// Logs go to stderr so that data commands keep stdout clean.
pub fn init(format: LogFormat, default_filter: Option<&str>) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter.unwrap_or(DEFAULT_FILTER)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .try_init(),
    };
}

/// The span work for one shop runs in: its `shop` and `adapter` (the
/// adapter id its config names) end up on every line logged inside.
pub fn shop_span(shop: &str, adapter: &str) -> Span {
    tracing::info_span!("shop", shop = %shop, adapter = %adapter)
}

/// Keys every line has; a field of the same name is written with a
/// `field_` prefix instead of overwriting them.
const RESERVED: [&str; 4] = ["timestamp", "level", "target", "span"];

/// JSON lines with span fields flattened: `timestamp`, `level`, `target`,
/// `message`, then the fields of each span around the event from the
/// outermost in (an inner span's value wins) merged with the event's own
/// fields (which win over any span's), in name order; last, `span` names
/// the innermost span.
///
/// Requires [`JsonFields`] as the subscriber's field formatter, which is
/// what stores each span's fields as a JSON object.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Map::new();
        let mut innermost = None;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(formatted) = extensions.get::<FormattedFields<N>>()
                    && let Ok(Value::Object(span_fields)) =
                        serde_json::from_str::<Value>(formatted.fields.as_str())
                {
                    fields.extend(span_fields);
                }
                innermost = Some(span.name());
            }
        }
        event.record(&mut Visitor(&mut fields));
        // Written by hand so the fixed keys come first, as people read them.
        let mut line = String::with_capacity(256);
        let mut put = |key: &str, value: &Value| {
            line.push(if line.is_empty() { '{' } else { ',' });
            line.push_str(&Value::String(key.to_owned()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        };
        put(
            "timestamp",
            &Value::String(crate::snapact::wire::rfc3339(std::time::SystemTime::now())),
        );
        put("level", &Value::String(meta.level().to_string()));
        put("target", &Value::String(meta.target().to_owned()));
        if let Some(message) = fields.remove("message") {
            put("message", &message);
        }
        for (key, value) in &fields {
            if RESERVED.contains(&key.as_str()) {
                put(&format!("field_{key}"), value);
            } else {
                put(key, value);
            }
        }
        if let Some(name) = innermost {
            put("span", &Value::String(name.to_owned()));
        }
        line.push('}');
        writeln!(writer, "{line}")
    }
}

/// An event's fields into a JSON object, numbers and booleans as such.
struct Visitor<'a>(&'a mut Map<String, Value>);

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(buffer: &Buffer) -> Vec<Value> {
        String::from_utf8(buffer.0.lock().expect("lock").clone())
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn json_subscriber(buffer: &Buffer) -> impl Subscriber + Send + Sync {
        let sink = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("debug"))
            .with_writer(move || sink.clone())
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .finish()
    }

    #[test]
    fn span_fields_become_top_level_keys_of_each_line() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(json_subscriber(&buffer), || {
            let shop = shop_span("lagos-main", "square");
            let _shop = shop.enter();
            let relay = tracing::info_span!("relay", shop = "lagos-main", attempt = 2u64);
            let _relay = relay.enter();
            tracing::warn!(
                status = 503u64,
                retry = true,
                "delivery failed: {}",
                "SnapAct 503"
            );
        });
        let raw = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("utf-8");
        assert!(
            raw.starts_with(r#"{"timestamp":""#)
                && raw.contains(r#"","level":"WARN","target":""#)
                && raw.trim_end().ends_with(r#","span":"relay"}"#),
            "{raw}"
        );
        let lines = lines(&buffer);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = &lines[0];
        assert_eq!(line["shop"], "lagos-main", "{line}");
        assert_eq!(line["adapter"], "square", "{line}");
        assert_eq!(line["attempt"], 2, "{line}");
        assert_eq!(line["status"], 503, "{line}");
        assert_eq!(line["retry"], true, "{line}");
        assert_eq!(line["message"], "delivery failed: SnapAct 503", "{line}");
        assert_eq!(line["level"], "WARN", "{line}");
        assert_eq!(line["span"], "relay", "{line}");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(line.get("spans").is_none() && line.get("fields").is_none());
    }

    #[test]
    fn event_fields_win_and_reserved_keys_are_kept() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(json_subscriber(&buffer), || {
            let span = tracing::info_span!("outer", shop = "a", level = "span-level");
            let _g = span.enter();
            tracing::info!(shop = "b", "explicit shop");
            tracing::info!("no span fields of its own");
        });
        let lines = lines(&buffer);
        assert_eq!(lines[0]["shop"], "b");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["field_level"], "span-level");
        assert_eq!(lines[1]["shop"], "a");
        // Outside any span: no shop, no span key.
        tracing::subscriber::with_default(json_subscriber(&buffer), || {
            tracing::info!("host-wide");
        });
        let all = self::lines(&buffer);
        let last = all.last().expect("a line");
        assert!(
            last.get("shop").is_none() && last.get("span").is_none(),
            "{last}"
        );
    }

    #[test]
    fn fields_recorded_later_on_a_span_are_included() {
        let buffer = Buffer::default();
        tracing::subscriber::with_default(json_subscriber(&buffer), || {
            let span = tracing::info_span!("call", shop = "a", adapter = tracing::field::Empty);
            span.record("adapter", "clover");
            let _g = span.enter();
            tracing::info!("called");
        });
        assert_eq!(lines(&buffer)[0]["adapter"], "clover");
    }
}

//! A small in-house metrics library and the host's metric catalogue.
//!
//! Counters, gauges and fixed-bucket histograms, grouped in label-keyed
//! families and rendered in the Prometheus text exposition format 0.0.4
//! (`# HELP` / `# TYPE` lines, escaped label values, cumulative `le`
//! buckets). Recording is a few atomic operations; label sets are looked up
//! once and their handles kept by whoever records often.
//!
//! ```
//! use snapact_host::metrics::{Registry, DURATION_BUCKETS};
//!
//! let registry = Registry::new();
//! let sent = registry.counter("demo_sent_total", "Things sent.", &["shop"]);
//! sent.with(&["lagos-main"]).inc();
//! let took = registry.histogram("demo_seconds", "Time taken.", &["shop"], DURATION_BUCKETS);
//! took.with(&["lagos-main"]).observe(0.004);
//! let text = registry.render();
//! assert!(text.contains("demo_sent_total{shop=\"lagos-main\"} 1\n"));
//! assert!(text.contains("demo_seconds_bucket{shop=\"lagos-main\",le=\"0.005\"} 1\n"));
//! ```
//!
//! [`host`] holds what the host measures ([`HostMetrics`], [`ShopMetrics`]).
//! Label values are shop and adapter ids and fixed words only: never a
//! secret, a URL or anything a caller sent.

pub mod host;

pub use host::{DeliveryResult, FailureReason, HostMetrics, ShopMetrics, WebhookSource};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// The `Content-Type` of [`Registry::render`]'s text.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Buckets (seconds) for latencies from tens of microseconds (an adapter
/// mapping a small payload) to the longest adapter deadline.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// A value that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Add one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Add `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Set it to `v`.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Observations counted into fixed buckets, with their sum and count.
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds, ascending; `+Inf` is implicit.
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last one is `+Inf`.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// What a histogram holds at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(upper bound, observations <= it)`, cumulative, ending with `+Inf`.
    pub buckets: Vec<(f64, u64)>,
    /// Sum of the observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending, finite).
    pub fn new(bounds: &'static [f64]) -> Self {
        debug_assert!(
            bounds.windows(2).all(|w| w[0] < w[1]) && bounds.iter().all(|b| b.is_finite()),
            "histogram bounds must ascend and be finite"
        );
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            count: AtomicU64::new(0),
        }
    }

    /// Count `v` into the first bucket whose bound is at least `v`.
    pub fn observe(&self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        if let Some(bucket) = self.buckets.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        // Lock-free float add.
        let mut current = self.sum.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + v).to_bits();
            match self.sum.compare_exchange_weak(
                current,
                next,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(seen) => current = seen,
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The cumulative buckets, sum and count. Taken without a lock, so a
    /// concurrent observation may show in some numbers and not yet in
    /// others; the count is read after the buckets so `+Inf` never exceeds it.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let bound = self.bounds.get(i).copied().unwrap_or(f64::INFINITY);
            buckets.push((bound, cumulative));
        }
        let count = self.count.load(Ordering::Relaxed).max(cumulative);
        if let Some(last) = buckets.last_mut() {
            last.1 = count;
        }
        HistogramSnapshot {
            buckets,
            sum: f64::from_bits(self.sum.load(Ordering::Relaxed)),
            count,
        }
    }
}

/// The kind of a metric family, as its `# TYPE` line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Bucketed observations.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A metric that can be rendered as samples.
pub trait Metric: Send + Sync + 'static {
    /// The family kind.
    const KIND: Kind;
    /// Write this metric's sample lines for the label set `labels`
    /// (`(name, value)` pairs).
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String);
}

impl Metric for Counter {
    const KIND: Kind = Kind::Counter;
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        write_sample(out, name, labels, None, &self.get().to_string());
    }
}

impl Metric for Gauge {
    const KIND: Kind = Kind::Gauge;
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        write_sample(out, name, labels, None, &format_value(self.get()));
    }
}

impl Metric for Histogram {
    const KIND: Kind = Kind::Histogram;
    fn render(&self, name: &str, labels: &[(&str, &str)], out: &mut String) {
        let snap = self.snapshot();
        let bucket = format!("{name}_bucket");
        for (bound, n) in &snap.buckets {
            let le = format_value(*bound);
            write_sample(out, &bucket, labels, Some(("le", &le)), &n.to_string());
        }
        write_sample(
            out,
            &format!("{name}_sum"),
            labels,
            None,
            &format_value(snap.sum),
        );
        write_sample(
            out,
            &format!("{name}_count"),
            labels,
            None,
            &snap.count.to_string(),
        );
    }
}

/// One metric per label set, created on first use.
pub struct Family<M> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    cells: RwLock<BTreeMap<Vec<String>, Arc<M>>>,
    make: Box<dyn Fn() -> M + Send + Sync>,
}

impl<M: Metric> Family<M> {
    fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        make: Box<dyn Fn() -> M + Send + Sync>,
    ) -> Self {
        debug_assert!(valid_metric_name(name), "invalid metric name {name:?}");
        debug_assert!(
            labels.iter().all(|l| valid_label_name(l)),
            "invalid label name in {labels:?}"
        );
        Family {
            name,
            help,
            labels,
            cells: RwLock::new(BTreeMap::new()),
            make,
        }
    }

    /// The metric for these label values (one per label name, in order).
    /// Missing values render as empty strings, extra ones are ignored: a
    /// caller's mistake shows in the output instead of taking a task down.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        let key: Vec<String> = (0..self.labels.len())
            .map(|i| values.get(i).copied().unwrap_or_default().to_owned())
            .collect();
        if let Some(m) = self
            .cells
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Arc::clone(m);
        }
        let mut cells = self.cells.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(cells.entry(key).or_insert_with(|| Arc::new((self.make)())))
    }
}

/// Something the registry renders.
trait Collect: Send + Sync {
    fn collect(&self, out: &mut String);
}

impl<M: Metric> Collect for Family<M> {
    fn collect(&self, out: &mut String) {
        let cells = self.cells.read().unwrap_or_else(|p| p.into_inner());
        write_header(out, self.name, self.help, M::KIND);
        for (values, metric) in cells.iter() {
            let labels: Vec<(&str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            metric.render(self.name, &labels, out);
        }
    }
}

/// Metric families in the order they were registered.
#[derive(Default)]
pub struct Registry {
    families: Mutex<Vec<Arc<dyn Collect>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    fn register<M: Metric>(&self, family: Family<M>) -> Arc<Family<M>> {
        let family = Arc::new(family);
        self.families
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&family) as Arc<dyn Collect>);
        family
    }

    /// A counter family; by convention `name` ends in `_total`.
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Arc<Family<Counter>> {
        self.register(Family::new(name, help, labels, Box::new(Counter::default)))
    }

    /// A gauge family.
    pub fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Arc<Family<Gauge>> {
        self.register(Family::new(name, help, labels, Box::new(Gauge::default)))
    }

    /// A histogram family over `bounds` (ascending, finite; `+Inf` is added).
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Arc<Family<Histogram>> {
        self.register(Family::new(
            name,
            help,
            labels,
            Box::new(move || Histogram::new(bounds)),
        ))
    }

    /// Every family as exposition text. A family without label sets yet
    /// still gets its HELP and TYPE lines, so scrapers learn it exists.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// Like [`Registry::render`], appending to `out`.
    pub fn render_into(&self, out: &mut String) {
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        for f in families.iter() {
            f.collect(out);
        }
    }
}

/// `# HELP` and `# TYPE` lines of a family.
pub fn write_header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

/// One sample line: `name{l1="v1",l2="v2"} value`. `extra` (a histogram's
/// `le`) goes last.
pub fn write_sample(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    extra: Option<(&str, &str)>,
    value: &str,
) {
    out.push_str(name);
    let mut all = labels.iter().copied().chain(extra).peekable();
    if all.peek().is_some() {
        out.push('{');
        for (i, (k, v)) in all.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(&escape_label_value(v));
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    out.push_str(value);
    out.push('\n');
}

/// A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`, else the
/// shortest decimal that reads back as the same number.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v == f64::INFINITY {
        "+Inf".to_owned()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        format!("{v}")
    }
}

/// A label value between double quotes: backslash, double quote and line
/// feed escaped.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// HELP text: backslash and line feed escaped (double quotes stay).
pub fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with the reserved `__`.
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.starts_with("__")
        && matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_help_type_and_sorted_label_sets() {
        let r = Registry::new();
        let c = r.counter("jobs_total", "Jobs done.", &["shop", "result"]);
        c.with(&["b", "ok"]).add(2);
        c.with(&["a", "ok"]).inc();
        c.with(&["a", "ok"]).inc();
        assert_eq!(
            r.render(),
            "# HELP jobs_total Jobs done.\n\
             # TYPE jobs_total counter\n\
             jobs_total{shop=\"a\",result=\"ok\"} 2\n\
             jobs_total{shop=\"b\",result=\"ok\"} 2\n"
        );
    }

    #[test]
    fn a_family_without_samples_still_declares_itself() {
        let r = Registry::new();
        r.gauge("up", "Whether it is up.", &[]);
        assert_eq!(r.render(), "# HELP up Whether it is up.\n# TYPE up gauge\n");
        let g = r.gauge("temperature", "T.", &[]);
        g.with(&[]).set(-1.5);
        assert!(r.render().ends_with("temperature -1.5\n"), "{}", r.render());
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let r = Registry::new();
        let c = r.counter(
            "odd_total",
            "Help with a \\ backslash\nand a newline, \"quotes\" stay.",
            &["v"],
        );
        c.with(&["a\"b\\c\nd"]).inc();
        let text = r.render();
        assert!(
            text.contains(
                "# HELP odd_total Help with a \\\\ backslash\\nand a newline, \"quotes\" stay.\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"),
            "{text}"
        );
        // Every line is a comment or `name{...} value`: nothing split a line.
        for line in text.lines() {
            assert!(
                line.starts_with('#') || line.starts_with("odd_total{"),
                "{line}"
            );
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_le_is_inclusive() {
        static BOUNDS: &[f64] = &[0.1, 0.5, 1.0];
        let h = Histogram::new(BOUNDS);
        for v in [0.05, 0.1, 0.3, 0.5, 0.7, 2.0, 10.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(
            s.buckets,
            vec![(0.1, 2), (0.5, 4), (1.0, 5), (f64::INFINITY, 7)]
        );
        assert_eq!(s.count, 7);
        assert!((s.sum - 13.65).abs() < 1e-9, "{}", s.sum);

        let r = Registry::new();
        let f = r.histogram("wait_seconds", "Waits.", &["shop"], BOUNDS);
        f.with(&["x"]).observe(0.2);
        f.with(&["x"]).observe(5.0);
        assert_eq!(
            r.render(),
            "# HELP wait_seconds Waits.\n\
             # TYPE wait_seconds histogram\n\
             wait_seconds_bucket{shop=\"x\",le=\"0.1\"} 0\n\
             wait_seconds_bucket{shop=\"x\",le=\"0.5\"} 1\n\
             wait_seconds_bucket{shop=\"x\",le=\"1\"} 1\n\
             wait_seconds_bucket{shop=\"x\",le=\"+Inf\"} 2\n\
             wait_seconds_sum{shop=\"x\"} 5.2\n\
             wait_seconds_count{shop=\"x\"} 2\n"
        );
    }

    #[test]
    fn histogram_counts_every_observation_from_many_threads() {
        let h = Arc::new(Histogram::new(DURATION_BUCKETS));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let h = Arc::clone(&h);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        h.observe(f64::from(i) / 1000.0);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let s = h.snapshot();
        assert_eq!(s.count, 4000);
        assert_eq!(s.buckets.last().map(|b| b.1), Some(4000));
        assert!((s.sum - 4.0 * 499.5).abs() < 1e-6, "{}", s.sum);
    }

    #[test]
    fn values_use_the_formats_spelling() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.005), "0.005");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_metric_name("snapact_deliveries_total"));
        assert!(valid_metric_name("a:b_c"));
        assert!(!valid_metric_name("9lives"));
        assert!(!valid_metric_name("with-dash"));
        assert!(!valid_metric_name(""));
        assert!(valid_label_name("shop"));
        assert!(!valid_label_name("__reserved"));
        assert!(!valid_label_name("le-bad"));
    }

    #[test]
    fn wrong_label_arity_is_padded_not_a_panic() {
        let r = Registry::new();
        let c = r.counter("x_total", "X.", &["a", "b"]);
        c.with(&["only-a"]).inc();
        c.with(&["1", "2", "3"]).inc();
        let text = r.render();
        assert!(text.contains("x_total{a=\"only-a\",b=\"\"} 1\n"), "{text}");
        assert!(text.contains("x_total{a=\"1\",b=\"2\"} 1\n"), "{text}");
    }
}

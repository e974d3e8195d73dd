//! `snapact-host status`: every shop's sync state at a glance, read from
//! the store (so it works whether or not `run` is running) and the
//! installed adapter packages.
//!
//! One line per shop with a state word, worst first:
//! `NO-ADAPTER` (no installed package matches the shop's `adapter`),
//! `PAUSED` (SnapAct refused the key), `PARKED` (changes or SnapAct events
//! wait for an operator), `LAGGING` (the oldest pending change is older than
//! `--lagging-after`), `OK`. Exit code: 0 when every shop is `OK` or
//! `LAGGING` (lag resolves by itself once SnapAct answers), 3 when any shop
//! needs an operator (`NO-ADAPTER`, `PAUSED`, `PARKED`), 1 when the status
//! could not be read.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use super::{EXIT_DATA, StatusArgs};
use crate::config::Config;
use crate::outbox::SqliteStore;
use crate::outbox::inbox::{InboxCounts, InboxStore};
use crate::outbox::store::{ShopStatus, Store};
use crate::snapact::wire::rfc3339 as wire_time;

/// A shop's state, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// No installed package matches the shop's `adapter`: `run` would not start.
    NoAdapter,
    /// SnapAct refused the shop's key (401/403); delivery waits for a fix.
    Paused,
    /// Changes or SnapAct events are parked until an operator retries them.
    Parked,
    /// The oldest pending change is older than the threshold.
    Lagging,
    /// In sync, or syncing within the threshold.
    Ok,
}

impl State {
    /// The word the table shows.
    pub fn word(self) -> &'static str {
        match self {
            State::NoAdapter => "NO-ADAPTER",
            State::Paused => "PAUSED",
            State::Parked => "PARKED",
            State::Lagging => "LAGGING",
            State::Ok => "OK",
        }
    }

    /// Whether an operator must act (the exit code is 3).
    pub fn needs_operator(self) -> bool {
        matches!(self, State::NoAdapter | State::Paused | State::Parked)
    }
}

/// One shop's line; the JSON keys are stable.
#[derive(Debug, Clone, Serialize)]
pub struct ShopRow {
    /// The shop id.
    pub shop: String,
    /// The adapter id its config names.
    pub adapter: String,
    /// The installed version `run` would load, if one matches.
    pub adapter_version: Option<String>,
    /// Why none would load.
    pub adapter_problem: Option<String>,
    /// The state word (`ok`, `lagging`, `parked`, `paused`, `no_adapter`).
    pub state: State,
    /// Last delivery SnapAct acknowledged (RFC 3339), `null`: never.
    pub last_success_at: Option<String>,
    /// Its age in seconds.
    pub last_success_age_secs: Option<u64>,
    /// Age in seconds of the oldest change waiting for delivery; 0 when none waits.
    pub lag_secs: u64,
    /// Changes waiting for delivery.
    pub pending: u64,
    /// Stock changes waiting for their item to arrive in full.
    pub stock_waiting: u64,
    /// Parked changes.
    pub parked: u64,
    /// Delivery is paused because SnapAct refused the key.
    pub paused: bool,
    /// Why, as the relay recorded it.
    pub paused_reason: Option<String>,
    /// The last delivery failure.
    pub last_error: Option<String>,
    /// SnapAct events (paid orders, status updates) waiting for the POS.
    pub orders_pending: u64,
    /// SnapAct events parked.
    pub orders_parked: u64,
}

/// Everything `status` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When it was read (RFC 3339).
    pub generated_at: String,
    /// Whether the store exists yet (`false`: the host never ran).
    pub store_found: bool,
    /// One row per configured shop, in config order.
    pub shops: Vec<ShopRow>,
}

impl Report {
    /// The process exit code this report calls for.
    pub fn exit_code(&self) -> u8 {
        if self.shops.iter().any(|s| s.state.needs_operator()) {
            EXIT_DATA
        } else {
            0
        }
    }
}

fn secs_since(now: SystemTime, then: SystemTime) -> u64 {
    now.duration_since(then).unwrap_or(Duration::ZERO).as_secs()
}

/// Read every configured shop's state. The store is opened only if it
/// exists: a status query never creates one.
pub async fn gather(config: &Config, lagging_after: Duration) -> anyhow::Result<Report> {
    let now = SystemTime::now();
    let store_found = config.store_path.exists();
    let mut statuses: BTreeMap<String, (ShopStatus, InboxCounts)> = BTreeMap::new();
    if store_found {
        let store = SqliteStore::open(&config.store_path).map_err(|e| {
            anyhow::anyhow!(
                "failed to open the store at {} ([store] path): {e}",
                config.store_path.display()
            )
        })?;
        for shop in &config.shops {
            let status = store
                .status(Some(&shop.id))
                .await?
                .into_iter()
                .next()
                .unwrap_or_else(|| ShopStatus::empty(&shop.id));
            let orders = store.inbox_counts(&shop.id).await?;
            statuses.insert(shop.id.clone(), (status, orders));
        }
    }
    let mut shops = Vec::with_capacity(config.shops.len());
    for shop in &config.shops {
        let (status, orders) = statuses
            .remove(&shop.id)
            .unwrap_or_else(|| (ShopStatus::empty(&shop.id), InboxCounts::default()));
        let (adapter_version, adapter_problem) =
            match crate::daemon::find_package(&config.adapters, &shop.adapter) {
                Ok(pkg) => (Some(pkg.manifest().version.to_string()), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            };
        let lag_secs = status
            .oldest_pending_since
            .map_or(0, |t| secs_since(now, t));
        let state = if adapter_problem.is_some() {
            State::NoAdapter
        } else if status.paused.is_some() {
            State::Paused
        } else if status.parked > 0 || orders.parked > 0 {
            State::Parked
        } else if status.pending > 0 && lag_secs > lagging_after.as_secs() {
            State::Lagging
        } else {
            State::Ok
        };
        shops.push(ShopRow {
            shop: shop.id.clone(),
            adapter: shop.adapter.id.clone(),
            adapter_version,
            adapter_problem,
            state,
            last_success_at: status.last_success_at.map(wire_time),
            last_success_age_secs: status.last_success_at.map(|t| secs_since(now, t)),
            lag_secs,
            pending: status.pending,
            stock_waiting: status.pending_stock,
            parked: status.parked,
            paused: status.paused.is_some(),
            paused_reason: status.paused,
            last_error: status.last_error,
            orders_pending: orders.pending,
            orders_parked: orders.parked,
        });
    }
    Ok(Report {
        generated_at: wire_time(now),
        store_found,
        shops,
    })
}

/// `45s`, `12m`, `3h`, `2d`.
fn short_age(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7_200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// The table: a header and one aligned line per shop, then a note per shop
/// that is not `OK` saying why and what to do.
pub fn render_table(report: &Report) -> String {
    let header = [
        "SHOP",
        "ADAPTER",
        "STATE",
        "LAST SYNC",
        "LAG",
        "PENDING",
        "PARKED",
        "ORDERS P/X",
    ];
    let rows: Vec<[String; 8]> = report
        .shops
        .iter()
        .map(|r| {
            [
                r.shop.clone(),
                format!(
                    "{}@{}",
                    r.adapter,
                    r.adapter_version.as_deref().unwrap_or("?")
                ),
                r.state.word().to_owned(),
                r.last_success_age_secs
                    .map_or_else(|| "never".to_owned(), |s| format!("{} ago", short_age(s))),
                if r.pending == 0 {
                    "-".to_owned()
                } else {
                    short_age(r.lag_secs)
                },
                r.pending.to_string(),
                r.parked.to_string(),
                format!("{}/{}", r.orders_pending, r.orders_parked),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    // Text columns left-aligned, numbers right-aligned.
    let right = [false, false, false, true, true, true, true, true];
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                out.push_str("  ");
            }
            let pad = widths[i].saturating_sub(cell.chars().count());
            if right[i] {
                out.push_str(&" ".repeat(pad));
                out.push_str(cell);
            } else {
                out.push_str(cell);
                if i + 1 < cells.len() {
                    out.push_str(&" ".repeat(pad));
                }
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(&header.map(str::to_owned));
    for row in &rows {
        out.push_str(&line(row));
    }
    let notes: Vec<String> = report
        .shops
        .iter()
        .filter_map(|r| {
            let why = match r.state {
                State::Ok => return None,
                State::NoAdapter => r.adapter_problem.clone().unwrap_or_default(),
                State::Paused => r.paused_reason.clone().unwrap_or_default(),
                State::Parked => format!(
                    "{} changes and {} SnapAct events parked: see `snapact-host outbox parked --shop {}`, \
                     then `snapact-host outbox retry --shop {}`",
                    r.parked, r.orders_parked, r.shop, r.shop
                ),
                State::Lagging => format!(
                    "the oldest of {} pending changes waits for {}{}",
                    r.pending,
                    short_age(r.lag_secs),
                    r.last_error
                        .as_deref()
                        .map(|e| format!("; last error: {e}"))
                        .unwrap_or_default()
                ),
            };
            Some(format!("{} {}: {why}\n", r.shop, r.state.word()))
        })
        .collect();
    if !notes.is_empty() {
        out.push('\n');
        for n in notes {
            out.push_str(&n);
        }
    }
    if !report.store_found {
        out.push_str("\n(no store yet: the host has not run with this config)\n");
    }
    out
}

pub(super) async fn run(args: StatusArgs) -> anyhow::Result<u8> {
    let config = args.config.load()?;
    let report = gather(&config, Duration::from_secs(args.lagging_after)).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_table(&report));
    }
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(shop: &str, state: State) -> ShopRow {
        ShopRow {
            shop: shop.into(),
            adapter: "square".into(),
            adapter_version: Some("1.2.0".into()),
            adapter_problem: None,
            state,
            last_success_at: None,
            last_success_age_secs: Some(42),
            lag_secs: 0,
            pending: 0,
            stock_waiting: 0,
            parked: 0,
            paused: false,
            paused_reason: None,
            last_error: None,
            orders_pending: 0,
            orders_parked: 0,
        }
    }

    #[test]
    fn the_table_is_aligned_and_explains_every_shop_not_ok() {
        let mut paused = row("lagos-lekki-phase-1", State::Paused);
        paused.paused = true;
        paused.paused_reason = Some("SnapAct refused the Connect API key (HTTP 401)".into());
        paused.pending = 1234;
        paused.lag_secs = 900;
        let report = Report {
            generated_at: "2026-01-01T00:00:00Z".into(),
            store_found: true,
            shops: vec![row("a", State::Ok), paused],
        };
        let text = render_table(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("SHOP"), "{text}");
        // Every column starts at the same offset on every line.
        let col = |l: &str, word: &str| l.find(word).expect("present");
        assert_eq!(col(lines[0], "STATE"), col(lines[1], "OK"), "{text}");
        assert_eq!(col(lines[0], "STATE"), col(lines[2], "PAUSED"), "{text}");
        assert_eq!(col(lines[1], "square@1.2.0"), col(lines[2], "square@1.2.0"));
        // Right-aligned numbers end where their header ends.
        let end = |l: &str, word: &str| col(l, word) + word.len();
        assert_eq!(end(lines[0], "PENDING"), end(lines[2], "1234"), "{text}");
        assert!(lines[2].contains("15m"), "{text}");
        assert!(
            text.contains("lagos-lekki-phase-1 PAUSED: SnapAct refused"),
            "{text}"
        );
        assert!(!text.contains("a OK:"), "{text}");
        assert_eq!(report.exit_code(), EXIT_DATA);
    }

    #[test]
    fn states_order_worst_first_and_only_some_need_an_operator() {
        let mut all = [
            State::Ok,
            State::Lagging,
            State::Parked,
            State::Paused,
            State::NoAdapter,
        ];
        all.sort();
        assert_eq!(all[0], State::NoAdapter);
        assert!(!State::Lagging.needs_operator() && !State::Ok.needs_operator());
        assert!(State::Parked.needs_operator());
        let report = Report {
            generated_at: String::new(),
            store_found: false,
            shops: vec![row("a", State::Lagging)],
        };
        assert_eq!(report.exit_code(), 0);
        assert!(render_table(&report).contains("no store yet"));
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["shops"][0]["state"], "lagging");
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(short_age(5), "5s");
        assert_eq!(short_age(600), "10m");
        assert_eq!(short_age(7_200), "2h");
        assert_eq!(short_age(3 * 86_400), "3d");
    }
}

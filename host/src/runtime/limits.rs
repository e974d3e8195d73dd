//! Per-call limits: memory (a `StoreLimits` that remembers it said no), the
//! deadline marker, and the size of a call's result.

use super::types::{PollPage, PosOrderRef, WebhookOutcome};
use crate::catalog::{Change, Item, Mapped, Rejection};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// `StoreLimits` with `trap_on_grow_failure`, recording whether memory
/// growth was refused so a trap can be reported as a memory trap.
pub(crate) struct CallLimiter {
    inner: StoreLimits,
    pub(crate) memory_refused: bool,
}

impl CallLimiter {
    pub(crate) fn new(memory_bytes: usize) -> Self {
        CallLimiter {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                .trap_on_grow_failure(true)
                .build(),
            memory_refused: false,
        }
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let answer = self.inner.memory_growing(current, desired, maximum);
        if !matches!(answer, Ok(true)) {
            self.memory_refused = true;
        }
        answer
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_refused = true;
        self.inner.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.inner.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.inner.instances()
    }

    fn tables(&self) -> usize {
        self.inner.tables()
    }

    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Raised by the epoch callback when a call passes its deadline.
#[derive(Debug)]
pub(crate) struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline passed")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// Approximate bytes a result holds: its text plus a fixed cost per value,
/// so neither huge strings nor millions of tiny records slip past the cap.
pub(crate) trait OutputSize {
    fn output_size(&self) -> usize;
}

const PER_VALUE: usize = 16;

fn text(s: &str) -> usize {
    s.len() + PER_VALUE
}

fn opt(s: &Option<String>) -> usize {
    s.as_deref().map_or(PER_VALUE, text)
}

impl OutputSize for Item {
    fn output_size(&self) -> usize {
        text(&self.external_ref)
            + text(&self.name)
            + self.price.as_ref().map_or(0, |m| text(&m.currency))
            + opt(&self.sku)
            + opt(&self.barcode)
            + opt(&self.category)
            + opt(&self.description)
            + opt(&self.image_url)
            + opt(&self.parent_ref)
            + opt(&self.stock_key)
            + opt(&self.source_version)
            + 4 * PER_VALUE
    }
}

impl OutputSize for Change {
    fn output_size(&self) -> usize {
        match self {
            Change::Upsert { item } => item.output_size(),
            Change::Stock {
                target,
                source_version,
                ..
            } => {
                opt(&target.external_ref)
                    + opt(&target.stock_key)
                    + opt(source_version)
                    + 3 * PER_VALUE
            }
            Change::Delete {
                external_ref,
                source_version,
            } => text(external_ref) + opt(source_version),
        }
    }
}

impl OutputSize for Rejection {
    fn output_size(&self) -> usize {
        opt(&self.record_id) + opt(&self.path) + text(&self.message)
    }
}

fn lists(changes: &[Change], rejected: &[Rejection]) -> usize {
    changes.iter().map(OutputSize::output_size).sum::<usize>()
        + rejected.iter().map(OutputSize::output_size).sum::<usize>()
}

impl OutputSize for Mapped {
    fn output_size(&self) -> usize {
        lists(&self.changes, &self.rejected)
    }
}

impl OutputSize for WebhookOutcome {
    fn output_size(&self) -> usize {
        lists(&self.changes, &self.rejected) + PER_VALUE
    }
}

impl OutputSize for PollPage {
    fn output_size(&self) -> usize {
        lists(&self.changes, &self.rejected) + opt(&self.cursor) + PER_VALUE
    }
}

impl OutputSize for PosOrderRef {
    fn output_size(&self) -> usize {
        text(&self.id) + opt(&self.number)
    }
}

impl OutputSize for () {
    fn output_size(&self) -> usize {
        0
    }
}

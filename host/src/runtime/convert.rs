//! Conversions between the generated WIT types and the host's own types:
//! the one place that knows both.

use super::bindings::types as wit;
use super::errors::AdapterError;
use super::types::{
    Fulfillment, Order, OrderStatus, OrderStatusUpdate, PollPage, PosOrderRef, Webhook,
    WebhookOutcome,
};
use crate::catalog::{
    Availability, Change, Item, Mapped, Money, Rejection, StockTarget, StockUpdate,
};

pub(crate) fn mapped(m: wit::Mapped) -> Mapped {
    Mapped {
        changes: m.changes.into_iter().map(change).collect(),
        rejected: m.rejected.into_iter().map(rejection).collect(),
    }
}

pub(crate) fn webhook_outcome(o: wit::WebhookOutcome) -> WebhookOutcome {
    WebhookOutcome {
        changes: o.changes.into_iter().map(change).collect(),
        rejected: o.rejected.into_iter().map(rejection).collect(),
        request_poll: o.request_poll,
    }
}

pub(crate) fn poll_page(p: wit::PollPage) -> PollPage {
    PollPage {
        changes: p.changes.into_iter().map(change).collect(),
        rejected: p.rejected.into_iter().map(rejection).collect(),
        cursor: p.cursor,
        more: p.more,
    }
}

pub(crate) fn pos_order_ref(r: wit::PosOrderRef) -> PosOrderRef {
    PosOrderRef {
        id: r.id,
        number: r.number,
    }
}

pub(crate) fn adapter_error(e: wit::AdapterError) -> AdapterError {
    match e {
        wit::AdapterError::InvalidInput(d) => AdapterError::InvalidInput {
            message: d.message,
            path: d.path,
        },
        wit::AdapterError::Unsupported(m) => AdapterError::Unsupported(m),
        wit::AdapterError::Upstream(u) => AdapterError::Upstream {
            message: u.message,
            status: u.status,
            retryable: u.retryable,
        },
        wit::AdapterError::NotConfigured(m) => AdapterError::NotConfigured(m),
        wit::AdapterError::Unauthenticated(m) => AdapterError::Unauthenticated(m),
    }
}

fn change(c: wit::Change) -> Change {
    match c {
        wit::Change::Upsert(i) => Change::Upsert { item: item(i) },
        wit::Change::Stock(s) => Change::stock(StockUpdate {
            target: match s.target {
                wit::StockTarget::ExternalRef(r) => StockTarget::ExternalRef(r),
                wit::StockTarget::StockKey(k) => StockTarget::StockKey(k),
            },
            quantity: s.quantity,
            availability: availability(s.availability),
            source_version: s.source_version,
        }),
        wit::Change::Delete(d) => Change::Delete {
            external_ref: d.external_ref,
            source_version: d.source_version,
        },
    }
}

fn item(i: wit::Item) -> Item {
    Item {
        external_ref: i.external_ref,
        name: i.name,
        price: i.price.map(|m| Money {
            amount_minor: m.amount_minor,
            currency: m.currency,
        }),
        quantity: i.quantity,
        availability: availability(i.availability),
        sku: i.sku,
        barcode: i.barcode,
        category: i.category,
        description: i.description,
        image_url: i.image_url,
        parent_ref: i.parent_ref,
        stock_key: i.stock_key,
        source_version: i.source_version,
    }
}

fn availability(a: wit::Availability) -> Availability {
    match a {
        wit::Availability::InStock => Availability::InStock,
        wit::Availability::LowStock => Availability::LowStock,
        wit::Availability::OutOfStock => Availability::OutOfStock,
        wit::Availability::OnRequest => Availability::OnRequest,
        wit::Availability::ScheduledOnly => Availability::ScheduledOnly,
    }
}

fn rejection(r: wit::Rejection) -> Rejection {
    Rejection {
        record_id: r.record_id,
        path: r.path,
        message: r.message,
    }
}

pub(crate) fn to_wit_webhook(w: Webhook) -> wit::IncomingWebhook {
    wit::IncomingWebhook {
        url: w.url,
        headers: w.headers,
        content_type: w.content_type,
        body: w.body,
    }
}

fn to_wit_money(m: Money) -> wit::Money {
    wit::Money {
        amount_minor: m.amount_minor,
        currency: m.currency,
    }
}

pub(crate) fn to_wit_order(o: Order) -> wit::Order {
    wit::Order {
        order_id: o.order_id,
        idempotency_key: o.idempotency_key,
        created_at: o.created_at,
        lines: o
            .lines
            .into_iter()
            .map(|l| wit::OrderLine {
                external_ref: l.external_ref,
                name: l.name,
                quantity: l.quantity,
                unit_price: to_wit_money(l.unit_price),
            })
            .collect(),
        subtotal: to_wit_money(o.subtotal),
        total: to_wit_money(o.total),
        fulfillment: match o.fulfillment {
            Fulfillment::Pickup => wit::Fulfillment::Pickup,
            Fulfillment::Delivery => wit::Fulfillment::Delivery,
        },
        note: o.note,
    }
}

pub(crate) fn to_wit_status_update(u: OrderStatusUpdate) -> wit::OrderStatusUpdate {
    wit::OrderStatusUpdate {
        order_id: u.order_id,
        pos_order: u.pos_order.map(|r| wit::PosOrderRef {
            id: r.id,
            number: r.number,
        }),
        status: match u.status {
            OrderStatus::Accepted => wit::OrderStatus::Accepted,
            OrderStatus::Preparing => wit::OrderStatus::Preparing,
            OrderStatus::Ready => wit::OrderStatus::Ready,
            OrderStatus::Completed => wit::OrderStatus::Completed,
            OrderStatus::Cancelled => wit::OrderStatus::Cancelled,
            OrderStatus::Refunded => wit::OrderStatus::Refunded,
        },
        idempotency_key: u.idempotency_key,
    }
}

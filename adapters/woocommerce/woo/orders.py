"""`push-order`: a paid SnapAct order becomes a paid WooCommerce order.

Idempotent on the order's idempotency key: the key is stored in the order's
`meta_data` and in its shipping line's title (an order item name, which
WooCommerce's order search covers), and an existing order carrying it is
returned instead of creating a second one.
"""

from . import money
from .host import call
from .model import AdapterFailure, OrderRef, invalid_input, upstream

META_ORDER_ID = "snapact_order_id"
META_KEY = "snapact_idempotency_key"


def push(host, order):
    """`order` has the WIT `order` fields as attributes."""
    existing = find_existing(host, order.idempotency_key)
    if existing is not None:
        host.log("info", f"SnapAct order {order.order_id} already in WooCommerce as #{existing.id}; not created again")
        return existing
    body = build_order(host, order)
    _, created = call(host, "POST", "/orders", body=body)
    return _ref(created, "POST /orders")


def find_existing(host, key):
    _, found = call(host, "GET", "/orders", query=[("search", key), ("per_page", "20"), ("status", "any")])
    if not isinstance(found, list):
        raise upstream("WooCommerce answered GET /orders with something other than an array")
    for candidate in found:
        if isinstance(candidate, dict) and _meta(candidate, META_KEY) == key:
            return _ref(candidate, "GET /orders")
    return None


def build_order(host, order):
    if not order.lines:
        raise invalid_input("the order has no lines", "$.lines")
    currency = order.total.currency
    line_items = []
    for i, line in enumerate(order.lines):
        if line.unit_price.currency != currency:
            raise invalid_input(
                f"line {i} is in {line.unit_price.currency}, the order in {currency}", f"$.lines[{i}].unit_price"
            )
        if line.quantity <= 0:
            raise invalid_input(f"line {i} has quantity {line.quantity}", f"$.lines[{i}].quantity")
        item = _product_ids(host, line.external_ref, i)
        line_total = _decimal(line.unit_price.amount_minor * line.quantity, currency, f"$.lines[{i}]")
        item.update({"quantity": line.quantity, "subtotal": line_total, "total": line_total})
        line_items.append(item)
    method_id, label = ("local_pickup", "pickup") if _is_pickup(order) else ("flat_rate", "delivery")
    body = {
        "status": "processing",
        "set_paid": True,
        "currency": currency,
        "payment_method": "snapact",
        "payment_method_title": "SnapAct",
        "created_via": "snapact",
        "line_items": line_items,
        "shipping_lines": [
            {"method_id": method_id, "method_title": f"SnapAct {label} {order.idempotency_key}", "total": "0"}
        ],
        "meta_data": [
            {"key": META_ORDER_ID, "value": order.order_id},
            {"key": META_KEY, "value": order.idempotency_key},
        ],
    }
    difference = order.total.amount_minor - order.subtotal.amount_minor
    if difference:
        # Delivery fees and discounts SnapAct applied: the WooCommerce total
        # then equals what the buyer paid.
        body["fee_lines"] = [
            {"name": "SnapAct fees and discounts", "total": _decimal(difference, currency, "$.total"), "tax_status": "none"}
        ]
    if order.note:
        body["customer_note"] = order.note
    return body


def _product_ids(host, external_ref, i):
    """`external_ref` is a product id (simple) or a variation id; WooCommerce
    wants a variation's parent as `product_id`, which `GET /products/{id}`
    answers for both kinds."""
    if not external_ref.isdigit():
        raise invalid_input(f"{external_ref!r} is not a WooCommerce product id", f"$.lines[{i}].external_ref")
    try:
        _, product = call(host, "GET", f"/products/{external_ref}")
    except AdapterFailure as e:
        if e.status == 404:
            raise upstream(
                f"line {i}: product {external_ref} no longer exists in WooCommerce; the order cannot be created as paid",
                status=404,
            ) from None
        raise
    if not isinstance(product, dict):
        raise upstream(f"GET /products/{external_ref} did not answer a product")
    parent = product.get("parent_id")
    if product.get("type") == "variation" and isinstance(parent, int) and parent > 0:
        return {"product_id": parent, "variation_id": int(external_ref)}
    return {"product_id": int(external_ref)}


def _is_pickup(order):
    value = getattr(order.fulfillment, "name", order.fulfillment)
    return str(value).lower() == "pickup"


def _decimal(amount_minor, currency, path):
    try:
        return money.to_decimal(amount_minor, currency)
    except money.MoneyError as e:
        raise invalid_input(str(e), path) from None


def _meta(order, key):
    meta = order.get("meta_data")
    if not isinstance(meta, list):
        return None
    for entry in meta:
        if isinstance(entry, dict) and entry.get("key") == key:
            return entry.get("value")
    return None


def _ref(order, what):
    if not isinstance(order, dict) or isinstance(order.get("id"), bool) or not isinstance(order.get("id"), int):
        raise upstream(f"WooCommerce answered {what} without an order id")
    number = order.get("number")
    return OrderRef(id=str(order["id"]), number=str(number) if isinstance(number, (str, int)) else None)


STATUS_TARGETS = {"completed": "completed", "cancelled": "cancelled", "refunded": "refunded"}


def status_changed(host, pos_order_id, status):
    """Mirror SnapAct's terminal statuses onto the WooCommerce order."""
    target = STATUS_TARGETS.get(status)
    if target is None:
        # accepted/preparing/ready: the order stays "processing" in WooCommerce.
        return
    if pos_order_id is None:
        host.log("warn", f"order status {status}: the order was never created in WooCommerce; nothing to update")
        return
    call(host, "PUT", f"/orders/{pos_order_id}", body={"status": target})

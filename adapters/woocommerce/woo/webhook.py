"""WooCommerce webhooks: `product.created`, `product.updated`,
`product.restored`, `product.deleted`, and the creation ping."""

import re

from .host import HttpFailure, call
from .mapping import Config, Mapper
from .model import AdapterFailure, Delete, Mapped, invalid_input
from .payload import parse_whole

SECRET = "webhook_secret"

_PING = re.compile(rb"\s*webhook_id=\d+\s*\Z")


class Outcome:
    def __init__(self, mapped=None, request_poll=False):
        self.mapped = mapped or Mapped()
        self.request_poll = request_poll


def handle(host, headers, content_type, body):
    hdr = {}
    for name, value in headers:
        hdr.setdefault(name.lower(), value)
    topic = hdr.get("x-wc-webhook-topic")
    if topic is None and _PING.match(bytes(body)):
        # WooCommerce posts `webhook_id=N` (form-encoded, unsigned) when a
        # webhook is saved and only activates it on a 200.
        host.log("info", "WooCommerce webhook ping received; answering 200")
        return Outcome()
    signature = hdr.get("x-wc-webhook-signature")
    if not signature:
        raise AdapterFailure(
            AdapterFailure.UNAUTHENTICATED, "missing X-WC-Webhook-Signature header: not a WooCommerce webhook delivery"
        )
    if not host.verify_hmac_sha256_base64(SECRET, bytes(body), signature.strip()):
        raise AdapterFailure(
            AdapterFailure.UNAUTHENTICATED,
            "X-WC-Webhook-Signature does not match the body under the shop's `webhook_secret`; "
            "check that it equals the webhook's Secret in WooCommerce > Settings > Advanced > Webhooks",
        )
    if topic is None:
        raise invalid_input("missing X-WC-Webhook-Topic header")
    if topic in ("product.created", "product.updated", "product.restored"):
        return _upsert(host, body)
    if topic == "product.deleted":
        return _deleted(host, body)
    host.log("warn", f"ignoring webhook topic {topic!r}: register only product.created/updated/deleted for SnapAct")
    return Outcome()


def _upsert(host, body):
    config = Config.load(host.setting)
    product = parse_whole(body)
    mapper = Mapper(config)
    mapped = Mapped()
    mapper.map_into(mapped, product, "$")
    # A variable product's own record carries neither prices nor stock of its
    # variations: a poll fetches them (with the new name, image, status).
    is_variable = isinstance(product, dict) and str(product.get("type", "")).startswith("variable")
    return Outcome(mapped, request_poll=is_variable)


def _deleted(host, body):
    value = parse_whole(body)
    pid = value.get("id") if isinstance(value, dict) else None
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise invalid_input("a product.deleted payload is {\"id\": N}", "$.id")
    changes = [Delete(str(pid))]
    changes.extend(Delete(v) for v in _variation_ids(host, pid))
    return Outcome(Mapped(changes=changes))


def _variation_ids(host, pid):
    """A trashed variable product is still readable: its variations stop
    selling with it. A product deleted for good (404) or an unreachable shop
    leaves only the product's own delete."""
    try:
        _, product = call(host, "GET", f"/products/{pid}")
    except AdapterFailure as e:
        host.log("warn", f"product {pid} deleted; could not read its variations: {e.message}")
        return []
    except HttpFailure:
        return []
    if not isinstance(product, dict) or not str(product.get("type", "")).startswith("variable"):
        return []
    ids = product.get("variations")
    if not isinstance(ids, list):
        return []
    return [str(v) for v in ids if isinstance(v, int) and not isinstance(v, bool) and v > 0]

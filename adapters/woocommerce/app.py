"""The WooCommerce adapter's component entry point (componentize-py).

Only this module touches the generated `wit_world` bindings (made by
componentize-py at build time from `wit/`); the logic lives in `woo/`.
Every export catches every exception and returns a typed `adapter-error`:
a Python exception must never become a trap.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log as wit_log
from wit_world.imports import pos_http, settings, signatures, types

from woo import mapping, orders, poll, webhook
from woo.host import Host, HttpFailure, Response
from woo.model import AdapterFailure, Delete, Item

_AVAILABILITY = {
    "in-stock": types.Availability.IN_STOCK,
    "low-stock": types.Availability.LOW_STOCK,
    "out-of-stock": types.Availability.OUT_OF_STOCK,
    "on-request": types.Availability.ON_REQUEST,
}

_METHODS = {
    "GET": pos_http.Method.GET,
    "POST": pos_http.Method.POST,
    "PUT": pos_http.Method.PUT,
    "PATCH": pos_http.Method.PATCH,
    "DELETE": pos_http.Method.DELETE,
}

_HTTP_ERRORS = {
    pos_http.HttpError_Denied: HttpFailure.DENIED,
    pos_http.HttpError_NotConfigured: HttpFailure.NOT_CONFIGURED,
    pos_http.HttpError_Timeout: HttpFailure.TIMEOUT,
    pos_http.HttpError_Connection: HttpFailure.CONNECTION,
    pos_http.HttpError_ResponseTooLarge: HttpFailure.TOO_LARGE,
    pos_http.HttpError_RateLimited: HttpFailure.RATE_LIMITED,
}

_LEVELS = {
    "debug": wit_log.Level.DEBUG,
    "info": wit_log.Level.INFO,
    "warn": wit_log.Level.WARN,
    "error": wit_log.Level.ERROR,
}


class WitHost(Host):
    def send(self, method, path, query=(), body=None):
        headers = [("accept", "application/json")]
        payload = b""
        if body is not None:
            headers.append(("content-type", "application/json"))
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        request = pos_http.Request(_METHODS[method], path, list(query), headers, payload)
        try:
            resp = pos_http.send(request)
        except Err as e:
            err = e.value
            detail = getattr(err, "value", "")
            raise HttpFailure(_HTTP_ERRORS.get(type(err), HttpFailure.CONNECTION), str(detail) if detail is not None else "")
        return Response(resp.status, resp.headers, resp.body)

    def verify_hmac_sha256_base64(self, secret_name, message, signature):
        try:
            return signatures.verify_hmac(
                secret_name,
                signatures.HmacAlgorithm.SHA256,
                message,
                signature,
                signatures.SignatureEncoding.BASE64,
            )
        except Err as e:
            what = "declared in adapter.toml" if isinstance(e.value, signatures.SecretError_NotDeclared) else "configured"
            raise AdapterFailure(
                AdapterFailure.NOT_CONFIGURED,
                f"secret `{secret_name}` is not {what}: set it in the shop's `secrets` to the webhook's Secret "
                "from WooCommerce > Settings > Advanced > Webhooks",
            ) from None

    def setting(self, key):
        return settings.get(key)

    def log(self, level, message):
        wit_log.log(_LEVELS.get(level, wit_log.Level.INFO), message)


_HOST = WitHost()


def _change(change):
    if isinstance(change, Item):
        price = None
        if change.price_minor is not None:
            price = types.Money(change.price_minor, change.currency)
        return types.Change_Upsert(
            types.Item(
                external_ref=change.external_ref,
                name=change.name,
                price=price,
                quantity=change.quantity,
                availability=_AVAILABILITY[change.availability],
                sku=change.sku,
                barcode=change.barcode,
                category=change.category,
                description=change.description,
                image_url=change.image_url,
                parent_ref=change.parent_ref,
                stock_key=None,
                source_version=change.source_version,
            )
        )
    assert isinstance(change, Delete)
    return types.Change_Delete(types.Deletion(change.external_ref, change.source_version))


def _rejections(rejected):
    return [types.Rejection(r.record_id, r.path, r.message) for r in rejected]


def _error(failure):
    kind = failure.kind
    if kind == AdapterFailure.INVALID_INPUT:
        return types.AdapterError_InvalidInput(types.ErrorDetail(failure.message, failure.path))
    if kind == AdapterFailure.UPSTREAM:
        return types.AdapterError_Upstream(types.UpstreamError(failure.message, failure.status, failure.retryable))
    if kind == AdapterFailure.NOT_CONFIGURED:
        return types.AdapterError_NotConfigured(failure.message)
    if kind == AdapterFailure.UNAUTHENTICATED:
        return types.AdapterError_Unauthenticated(failure.message)
    return types.AdapterError_Unsupported(failure.message)


def _guard(what, fn):
    """Run `fn`, turning every exception into a typed `adapter-error`."""
    try:
        return fn()
    except Err:
        raise
    except AdapterFailure as e:
        raise Err(_error(e)) from None
    except MemoryError:
        raise Err(types.AdapterError_InvalidInput(types.ErrorDetail(f"{what}: payload too large for this adapter's memory limit", "$"))) from None
    except RecursionError:
        raise Err(types.AdapterError_InvalidInput(types.ErrorDetail(f"{what}: JSON nested too deeply", "$"))) from None
    except Exception as e:  # noqa: BLE001 - the boundary: a bug must not trap the host
        try:
            _HOST.log("error", f"{what} failed unexpectedly: {type(e).__name__}: {e}")
        except Exception:  # noqa: BLE001
            pass
        raise Err(
            types.AdapterError_InvalidInput(
                types.ErrorDetail(f"{what} could not process this input ({type(e).__name__}); the adapter logged why", "$")
            )
        ) from None


class PosAdapter(exports.PosAdapter):
    def map_records(self, payload, content_type):
        def run():
            mapped = mapping.map_payload(payload, _HOST.setting)
            return types.Mapped([_change(c) for c in mapped.changes], _rejections(mapped.rejected))

        return _guard("map-records", run)

    def handle_webhook(self, req):
        def run():
            out = webhook.handle(_HOST, req.headers, req.content_type, req.body)
            return types.WebhookOutcome(
                [_change(c) for c in out.mapped.changes], _rejections(out.mapped.rejected), out.request_poll
            )

        return _guard("handle-webhook", run)

    def poll(self, cursor):
        def run():
            page = poll.poll(_HOST, cursor)
            return types.PollPage([_change(c) for c in page.changes], _rejections(page.rejected), page.cursor, page.more)

        return _guard("poll", run)

    def push_order(self, order):
        def run():
            ref = orders.push(_HOST, order)
            return types.PosOrderRef(ref.id, ref.number)

        return _guard("push-order", run)

    def order_status_changed(self, update):
        def run():
            pos_id = update.pos_order.id if update.pos_order is not None else None
            orders.status_changed(_HOST, pos_id, update.status.name.lower())

        return _guard("order-status-changed", run)

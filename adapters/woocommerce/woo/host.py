"""The host services the WooCommerce logic needs, behind one small interface.

`app.py` implements it with the WIT imports; the tests with fakes.
"""

import json

from .model import AdapterFailure, not_configured, upstream
from .payload import parse_whole

API = "/wp-json/wc/v3"


class HttpFailure(Exception):
    """`pos-http.send` failed before an answer: `kind` is the WIT case."""

    DENIED = "denied"
    NOT_CONFIGURED = "not-configured"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    TOO_LARGE = "response-too-large"
    RATE_LIMITED = "rate-limited"

    def __init__(self, kind, detail=""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body


class Host:
    """Implemented by `app.WitHost` and by the tests' fake."""

    def send(self, method, path, query=(), body=None):
        """One request to the shop's WooCommerce. `body` is JSON-able or
        None. Returns a `Response`, raises `HttpFailure`."""
        raise NotImplementedError

    def verify_hmac_sha256_base64(self, secret_name, message, signature):
        """True when `signature` is base64 HMAC-SHA256 of `message` under the
        shop's secret; raises `AdapterFailure` (not-configured) when the
        secret is missing."""
        raise NotImplementedError

    def setting(self, key):
        raise NotImplementedError

    def log(self, level, message):
        raise NotImplementedError


def call(host, method, path, query=(), body=None, what="WooCommerce"):
    """Send and decode a JSON answer; every failure becomes a typed
    `AdapterFailure` that says whether a retry can help."""
    try:
        resp = host.send(method, API + path, list(query), body)
    except HttpFailure as e:
        if e.kind in (HttpFailure.DENIED, HttpFailure.NOT_CONFIGURED):
            raise not_configured(
                f"the host refused the call to {path} ({e.kind}: {e.detail}); configure the shop's "
                "`pos_base_url` and add its host to the adapter's `http_hosts` (see the adapter README)"
            ) from None
        retryable = e.kind != HttpFailure.TOO_LARGE
        raise upstream(f"{what} could not be reached for {method} {path}: {e}", retryable=retryable) from None
    if resp.status >= 300:
        raise upstream(
            f"{what} answered {resp.status} to {method} {path}: {_error_message(resp.body)}",
            status=resp.status,
            retryable=resp.status == 429 or resp.status >= 500,
        )
    try:
        return resp, parse_whole(resp.body)
    except AdapterFailure as e:
        raise upstream(f"{what} answered {method} {path} with a body that is not JSON: {e.message}", status=resp.status) from None


def _error_message(body):
    # WooCommerce errors: {"code": "...", "message": "...", "data": {"status": N}}.
    try:
        value = json.loads(bytes(body).decode("utf-8", "replace"))
    except ValueError:
        return bytes(body[:200]).decode("utf-8", "replace") or "(empty body)"
    if isinstance(value, dict) and isinstance(value.get("message"), str):
        code = value.get("code")
        return f"{value['message']} ({code})" if isinstance(code, str) else value["message"]
    return "(no error message)"

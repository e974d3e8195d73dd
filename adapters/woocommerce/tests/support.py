"""A fake host for running the adapter logic under plain CPython."""

import base64
import hashlib
import hmac
import json
import os
import sys

ADAPTER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ADAPTER not in sys.path:
    sys.path.insert(0, ADAPTER)

from woo.host import Host, HttpFailure, Response  # noqa: E402
from woo.model import AdapterFailure  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(ADAPTER)), "tests", "fixtures", "woocommerce")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def sign(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class FakeHost(Host):
    """Answers requests from `routes`: {(method, path): [(status, body, headers)...]}
    consumed in order; records every request."""

    def __init__(self, settings=None, secrets=None, routes=None):
        self.settings = dict(settings or {"currency": "NGN"})
        self.secrets = dict(secrets or {})
        self.routes = {k: list(v) for k, v in (routes or {}).items()}
        self.requests = []
        self.logs = []

    def send(self, method, path, query=(), body=None):
        self.requests.append((method, path, list(query), body))
        answers = self.routes.get((method, path))
        if not answers:
            raise HttpFailure(HttpFailure.DENIED, f"no route for {method} {path}")
        answer = answers.pop(0)
        if isinstance(answer, HttpFailure):
            raise answer
        status, payload, headers = (answer + ({},))[:3] if len(answer) == 2 else answer
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return Response(status, list(headers.items()), raw)

    def verify_hmac_sha256_base64(self, secret_name, message, signature):
        if secret_name not in self.secrets:
            raise AdapterFailure(AdapterFailure.NOT_CONFIGURED, f"secret `{secret_name}` is not configured")
        return hmac.compare_digest(sign(self.secrets[secret_name], message), signature)

    def setting(self, key):
        return self.settings.get(key)

    def log(self, level, message):
        self.logs.append((level, message))

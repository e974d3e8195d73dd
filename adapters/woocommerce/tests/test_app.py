"""`app.py`, the WIT boundary, under plain CPython: the bindings come from
`componentize-py bindings` (skipped when the tool is not installed) and the
imported host functions are replaced by fakes."""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from tests.support import ADAPTER, fixture, sign

WIT = os.path.join(os.path.dirname(os.path.dirname(ADAPTER)), "wit")
TOOL = shutil.which("componentize-py")


@unittest.skipIf(TOOL is None, "componentize-py is not installed (pip install componentize-py==0.25.1)")
class Boundary(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        subprocess.run([TOOL, "-q", "-d", WIT, "-w", "adapter", "bindings", cls.tmp], check=True)
        sys.path.insert(0, cls.tmp)
        cls.app = importlib.import_module("app")
        from wit_world.imports import log, pos_http, settings, signatures, types

        cls.types, cls.pos_http = types, pos_http
        cls.settings = {"currency": "USD", "low_stock_threshold": "5"}
        settings.get = lambda key: cls.settings.get(key)
        log.log = lambda level, message: None
        signatures.verify_hmac = lambda name, alg, msg, sig, enc: sig == sign("s3cret", msg)
        pos_http.send = cls.fake_send
        cls.sent = []

    @classmethod
    def tearDownClass(cls):
        sys.path.remove(cls.tmp)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def fake_send(cls, request):
        cls.sent.append(request)
        if request.path == "/wp-json/wc/v3/orders" and request.method == cls.pos_http.Method.GET:
            from componentize_py_types import Err

            raise Err(cls.pos_http.HttpError_Timeout())
        return cls.pos_http.Response(404, [], b"{}")

    def adapter(self):
        return self.app.PosAdapter()

    def test_map_records_returns_wit_values(self):
        mapped = self.adapter().map_records(fixture("bad-record.input.json"), "application/json")
        first = mapped.changes[0]
        self.assertIsInstance(first, self.types.Change_Upsert)
        self.assertEqual(first.value.price, self.types.Money(2199, "USD"))
        self.assertEqual(first.value.availability, self.types.Availability.IN_STOCK)
        self.assertEqual([(r.record_id, r.path) for r in mapped.rejected], [("801", "$[1].price")])

    def test_errors_are_typed_never_raw_exceptions(self):
        from componentize_py_types import Err

        with self.assertRaises(Err) as ctx:
            self.adapter().map_records(b'[{"id": 1', "application/json")
        self.assertIsInstance(ctx.exception.value, self.types.AdapterError_InvalidInput)
        self.assertEqual(ctx.exception.value.value.path, "$[0]")
        for data in (b"\x00\xff", b"[" * 100000, b"42"):
            with self.assertRaises(Err):
                self.adapter().map_records(data, "application/json")

    def test_webhook_ping_and_signed_delivery(self):
        ping = self.types.IncomingWebhook("https://h/wh", [], "application/x-www-form-urlencoded", b"webhook_id=3")
        out = self.adapter().handle_webhook(ping)
        self.assertEqual((out.changes, out.rejected, out.request_poll), ([], [], False))
        body = fixture("webhook-product-updated.input.json")
        hdrs = [("x-wc-webhook-topic", "product.updated"), ("x-wc-webhook-signature", sign("s3cret", body))]
        out = self.adapter().handle_webhook(self.types.IncomingWebhook("https://h/wh", hdrs, "application/json", body))
        self.assertEqual(out.changes[0].value.price.amount_minor, 2454)

    def test_http_failures_become_retryable_upstream_errors(self):
        from componentize_py_types import Err

        m = self.types.Money(900, "USD")
        order = self.types.Order(
            "o1", "k1", "2026-11-27T06:00:00Z", [self.types.OrderLine("733", "x", 1, m)], m, m,
            self.types.Fulfillment.PICKUP, None,
        )
        with self.assertRaises(Err) as ctx:
            self.adapter().push_order(order)
        err = ctx.exception.value
        self.assertIsInstance(err, self.types.AdapterError_Upstream)
        self.assertTrue(err.value.retryable)


if __name__ == "__main__":
    unittest.main()

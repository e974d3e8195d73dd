import json
import unittest
from dataclasses import dataclass
from typing import List, Optional

from tests.support import FakeHost, fixture, sign

from woo import orders, poll, webhook
from woo.host import HttpFailure
from woo.model import AdapterFailure, Delete, Item

SECRET = "wc-secret"
BODY = fixture("webhook-product-updated.input.json")


def headers(topic, body=BODY, secret=SECRET):
    return [
        ("x-wc-webhook-topic", topic),
        ("x-wc-webhook-signature", sign(secret, body)),
        ("content-type", "application/json"),
    ]


class Webhooks(unittest.TestCase):
    def host(self, **kw):
        return FakeHost(settings={"currency": "USD"}, secrets={"webhook_secret": SECRET}, **kw)

    def test_a_signed_product_update_maps_the_product(self):
        out = webhook.handle(self.host(), headers("product.updated"), "application/json", BODY)
        (change,) = out.mapped.changes
        self.assertEqual((change.external_ref, change.price_minor), ("794", 2454))
        self.assertFalse(out.request_poll)

    def test_a_wrong_or_missing_signature_is_unauthenticated(self):
        for hdrs in (headers("product.updated", secret="other"), headers("product.updated")[:1]):
            with self.assertRaises(AdapterFailure) as ctx:
                webhook.handle(self.host(), hdrs, "application/json", BODY)
            self.assertEqual(ctx.exception.kind, "unauthenticated")
        tampered = BODY.replace(b"24.54", b"0.01")
        with self.assertRaises(AdapterFailure) as ctx:
            webhook.handle(self.host(), headers("product.updated"), "application/json", tampered)
        self.assertEqual(ctx.exception.kind, "unauthenticated")

    def test_a_missing_secret_is_not_configured(self):
        with self.assertRaises(AdapterFailure) as ctx:
            webhook.handle(FakeHost(), headers("product.updated"), "application/json", BODY)
        self.assertEqual(ctx.exception.kind, "not-configured")

    def test_the_creation_ping_is_answered_without_a_signature(self):
        out = webhook.handle(self.host(), [("content-type", "application/x-www-form-urlencoded")], "application/x-www-form-urlencoded", b"webhook_id=15")
        self.assertEqual((out.mapped.changes, out.mapped.rejected, out.request_poll), ([], [], False))
        with self.assertRaises(AdapterFailure):
            webhook.handle(self.host(), [], "application/x-www-form-urlencoded", b"webhook_id=15&x=1")

    def test_a_variable_product_asks_for_a_poll(self):
        body = fixture("variable-product.input.json")
        out = webhook.handle(self.host(), headers("product.updated", body), "application/json", body)
        self.assertTrue(out.request_poll)

    def test_a_deleted_variable_product_deletes_its_variations(self):
        body = b'{"id":799}'
        trashed = dict(json.loads(fixture("variable-product.input.json")), status="trash", variations=[800, 801])
        host = self.host(routes={("GET", "/wp-json/wc/v3/products/799"): [(200, trashed)]})
        out = webhook.handle(host, headers("product.deleted", body), "application/json", body)
        self.assertEqual(out.mapped.changes, [Delete("799"), Delete("800"), Delete("801")])
        gone = self.host(routes={("GET", "/wp-json/wc/v3/products/799"): [(404, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."})]})
        out = webhook.handle(gone, headers("product.deleted", body), "application/json", body)
        self.assertEqual(out.mapped.changes, [Delete("799")])

    def test_other_topics_are_acknowledged_and_ignored(self):
        out = webhook.handle(self.host(), headers("order.created"), "application/json", BODY)
        self.assertEqual(out.mapped.changes, [])


@dataclass
class M:
    amount_minor: int
    currency: str


@dataclass
class Line:
    external_ref: str
    name: str
    quantity: int
    unit_price: M


@dataclass
class Order:
    order_id: str
    idempotency_key: str
    created_at: str
    lines: List[Line]
    subtotal: M
    total: M
    fulfillment: str
    note: Optional[str]


ORDER = Order(
    "ord_123", "snapact-ord_123", "2026-11-27T06:00:00Z",
    [Line("794", "Premium Quality", 2, M(2199, "USD")), Line("733", "Ship Your Idea - Green", 1, M(900, "USD"))],
    M(5298, "USD"), M(5798, "USD"), "pickup", "no onions",
)

SEARCH = ("GET", "/wp-json/wc/v3/orders")
VARIATION = {"id": 733, "type": "variation", "parent_id": 22}
SIMPLE = {"id": 794, "type": "simple", "parent_id": 0}


class PushOrder(unittest.TestCase):
    def routes(self, existing=()):
        return {
            SEARCH: [(200, list(existing))],
            ("GET", "/wp-json/wc/v3/products/794"): [(200, SIMPLE)],
            ("GET", "/wp-json/wc/v3/products/733"): [(200, VARIATION)],
            ("POST", "/wp-json/wc/v3/orders"): [(201, {"id": 727, "number": "727"})],
        }

    def test_creates_a_paid_order_with_variations_under_their_parent(self):
        host = FakeHost(routes=self.routes())
        ref = orders.push(host, ORDER)
        self.assertEqual((ref.id, ref.number), ("727", "727"))
        method, path, query, body = host.requests[-1]
        self.assertEqual((method, path), ("POST", "/wp-json/wc/v3/orders"))
        self.assertTrue(body["set_paid"])
        self.assertEqual(
            body["line_items"],
            [
                {"product_id": 794, "quantity": 2, "subtotal": "43.98", "total": "43.98"},
                {"product_id": 22, "variation_id": 733, "quantity": 1, "subtotal": "9.00", "total": "9.00"},
            ],
        )
        self.assertEqual(body["fee_lines"][0]["total"], "5.00")
        self.assertIn({"key": "snapact_idempotency_key", "value": "snapact-ord_123"}, body["meta_data"])
        self.assertIn("snapact-ord_123", body["shipping_lines"][0]["method_title"])
        self.assertEqual(body["customer_note"], "no onions")
        self.assertIn(("search", "snapact-ord_123"), host.requests[0][2])

    def test_a_retry_returns_the_existing_order_and_creates_nothing(self):
        existing = {"id": 727, "number": "727", "meta_data": [{"id": 1, "key": "snapact_idempotency_key", "value": "snapact-ord_123"}]}
        unrelated = {"id": 700, "number": "700", "meta_data": []}
        host = FakeHost(routes=self.routes([unrelated, existing]))
        ref = orders.push(host, ORDER)
        self.assertEqual(ref.id, "727")
        self.assertNotIn("POST", [r[0] for r in host.requests])

    def test_failures_say_whether_a_retry_can_help(self):
        routes = self.routes()
        routes[("POST", "/wp-json/wc/v3/orders")] = [(503, b"busy")]
        with self.assertRaises(AdapterFailure) as ctx:
            orders.push(FakeHost(routes=routes), ORDER)
        self.assertEqual((ctx.exception.kind, ctx.exception.status, ctx.exception.retryable), ("upstream", 503, True))
        routes = self.routes()
        routes[("GET", "/wp-json/wc/v3/products/733")] = [(404, {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID."})]
        with self.assertRaises(AdapterFailure) as ctx:
            orders.push(FakeHost(routes=routes), ORDER)
        self.assertFalse(ctx.exception.retryable)
        self.assertIn("733", ctx.exception.message)
        routes = self.routes()
        routes[SEARCH] = [HttpFailure(HttpFailure.TIMEOUT)]
        with self.assertRaises(AdapterFailure) as ctx:
            orders.push(FakeHost(routes=routes), ORDER)
        self.assertTrue(ctx.exception.retryable)
        with self.assertRaises(AdapterFailure) as ctx:
            orders.push(FakeHost(routes={}), ORDER)
        self.assertEqual(ctx.exception.kind, "not-configured")


PRODUCTS = ("GET", "/wp-json/wc/v3/products")
DATE = {"date": "Fri, 27 Nov 2026 06:00:00 GMT"}


class Poll(unittest.TestCase):
    def test_a_cycle_reads_products_and_variations_and_resumes_after_its_start(self):
        products = json.loads(fixture("products-list.input.json"))
        variations = json.loads(fixture("variations-list.input.json"))
        host = FakeHost(
            settings={"currency": "USD"},
            routes={PRODUCTS: [(200, products, DATE)], ("GET", "/wp-json/wc/v3/products/799/variations"): [(200, variations)]},
        )
        page = poll.poll(host, None)
        self.assertFalse(page.more)
        refs = [c.external_ref for c in page.changes]
        self.assertEqual(refs, ["733", "732", "794"])
        self.assertEqual(page.changes[0].name, "Ship Your Idea - Green")
        self.assertEqual(page.changes[0].parent_ref, "799")
        self.assertEqual(json.loads(page.cursor)["after"], "2026-11-27T06:00:00")

        host = FakeHost(settings={"currency": "USD"}, routes={PRODUCTS: [(200, [], DATE)]})
        page = poll.poll(host, page.cursor)
        self.assertIn(("modified_after", "2026-11-27T06:00:00"), host.requests[0][2])
        self.assertIn(("dates_are_gmt", "true"), host.requests[0][2])
        self.assertEqual((page.changes, page.more), ([], False))

    def test_a_full_page_continues_on_the_next_page(self):
        simple = json.loads(fixture("simple-product.input.json"))
        full = [dict(simple, id=i) for i in range(1, 101)]
        host = FakeHost(settings={"currency": "USD"}, routes={PRODUCTS: [(200, full, DATE), (200, [dict(simple, id=101)])]})
        page = poll.poll(host, None)
        self.assertEqual(len(page.changes), 101)
        self.assertEqual([q for q in host.requests[1][2] if q[0] == "page"], [("page", "2")])

    def test_the_request_budget_ends_a_call_and_the_cursor_resumes_it(self):
        variable = json.loads(fixture("variable-product.input.json"))
        many = [dict(variable, id=i) for i in range(1, 13)]
        routes = {PRODUCTS: [(200, many, DATE)] * 4}
        for i in range(1, 13):
            routes[("GET", f"/wp-json/wc/v3/products/{i}/variations")] = [(200, [{"id": 1000 + i, "price": "1.00", "parent_id": i}])]
        host = FakeHost(settings={"currency": "USD"}, routes=routes)
        page = poll.poll(host, None)
        self.assertTrue(page.more)
        self.assertEqual(len(host.requests), poll.REQUEST_BUDGET)
        changes, calls = list(page.changes), 1
        while page.more and calls < 10:
            page = poll.poll(host, page.cursor)
            changes += page.changes
            calls += 1
        self.assertFalse(page.more)
        # 1 products page + 4 variation lists per call, the page re-read on resume.
        self.assertEqual(calls, 3)
        self.assertEqual([c.external_ref for c in changes], [str(1000 + i) for i in range(1, 13)])

    def test_a_foreign_cursor_is_invalid_input(self):
        for cursor in ("x", '{"v":2}', '{"v":1,"after":"yesterday","since":null,"page":1,"done":0}'):
            with self.assertRaises(AdapterFailure) as ctx:
                poll.poll(FakeHost(), cursor)
            self.assertEqual(ctx.exception.kind, "invalid-input")


if __name__ == "__main__":
    unittest.main()

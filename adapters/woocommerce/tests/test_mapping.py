import copy
import json
import os
import unittest

from tests.support import FIXTURES, fixture

from woo import money
from woo.mapping import map_payload
from woo.model import AdapterFailure, Delete, to_json

PRODUCT = json.loads(fixture("simple-product.input.json"))


def run(value, **settings):
    settings = {"currency": "NGN", **settings}
    data = value if isinstance(value, bytes) else json.dumps(value).encode()
    return map_payload(data, settings.get)


def item(value, **settings):
    mapped = run(value, **settings)
    assert not mapped.rejected, mapped.rejected
    (change,) = mapped.changes
    return change


def product(**changes):
    p = copy.deepcopy(PRODUCT)
    p.update(changes)
    return p


class GoldenFixtures(unittest.TestCase):
    def test_every_fixture_maps_to_its_expected_output(self):
        names = sorted(f[: -len(".input.json")] for f in os.listdir(FIXTURES) if f.endswith(".input.json"))
        self.assertGreaterEqual(len(names), 8)
        for name in names:
            with self.subTest(name):
                settings = json.loads(fixture(f"{name}.settings.json"))
                expected = json.loads(fixture(f"{name}.expected.json"))
                got = to_json(map_payload(fixture(f"{name}.input.json"), settings.get))
                if isinstance(expected, dict):
                    want = [{k: r[k] for k in expected_r} for r, expected_r in zip(got["rejected"], expected["rejected"])]
                    self.assertEqual(expected["rejected"], want)
                    self.assertEqual(len(expected["rejected"]), len(got["rejected"]))
                    expected, got = expected["changes"], got["changes"]
                self.assertEqual(expected, got)


class Money(unittest.TestCase):
    def test_prices_are_exact_in_each_currencys_minor_unit(self):
        cases = [
            ("21.99", "USD", 2199),
            ("1500", "NGN", 150000),
            ("0.1", "USD", 10),
            ("0.29", "USD", 29),  # 0.29 * 100 is 28.999999999999996 in binary floating point
            ("1.15", "EUR", 115),
            ("1200", "JPY", 1200),
            ("1.234", "KWD", 1234),
            ("92233720368547758.07", "USD", 2**63 - 1),
        ]
        for text, currency, minor in cases:
            with self.subTest(text=text, currency=currency):
                self.assertEqual(item(product(price=text), currency=currency).price_minor, minor)

    def test_too_many_decimals_or_not_a_number_is_rejected_with_the_field_path(self):
        for price, needle in [("21.999", "more than 2 decimal places"), ("1,299.00", "not a decimal"), ("1e3", "not a decimal"), ("NaN", "not a decimal"), ("-5", "negative")]:
            with self.subTest(price):
                mapped = run([PRODUCT, product(id=900, price=price)], currency="USD")
                self.assertEqual(len(mapped.changes), 1)
                (rej,) = mapped.rejected
                self.assertEqual((rej.record_id, rej.path), ("900", "$[1].price"))
                self.assertIn(needle, rej.message)
        mapped = run(product(price="1.5"), currency="JPY")
        self.assertEqual(mapped.rejected[0].path, "$.price")

    def test_json_numbers_are_read_exactly_too(self):
        self.assertEqual(item(b'{"id": 7, "type": "simple", "name": "x", "price": 0.29}', currency="USD").price_minor, 29)

    def test_tax_is_added_when_prices_exclude_it(self):
        got = item(product(price="1000"), prices_include_tax="false", tax_rate_percent="7.5")
        self.assertEqual(got.price_minor, 107500)
        got = item(product(price="0.05"), currency="USD", prices_include_tax="false", tax_rate_percent="10")
        self.assertEqual(got.price_minor, 6)  # 5.5 cents rounds half up, as WooCommerce rounds
        untaxed = item(product(price="1000", tax_status="none"), prices_include_tax="false", tax_rate_percent="7.5")
        self.assertEqual(untaxed.price_minor, 100000)

    def test_decimal_strings_render_back(self):
        self.assertEqual(money.to_decimal(2199, "USD"), "21.99")
        self.assertEqual(money.to_decimal(-5, "KWD"), "-0.005")
        self.assertEqual(money.to_decimal(1200, "JPY"), "1200")
        self.assertEqual(money.to_decimal(7, "NGN"), "0.07")


class Stock(unittest.TestCase):
    def test_stock_statuses(self):
        cases = [
            (dict(manage_stock=False, stock_quantity=None, stock_status="instock"), None, "in-stock"),
            (dict(manage_stock=False, stock_quantity=None, stock_status="outofstock"), None, "out-of-stock"),
            (dict(manage_stock=False, stock_quantity=None, stock_status="onbackorder"), None, "on-request"),
            (dict(manage_stock=True, stock_quantity=12, stock_status="instock"), 12, "in-stock"),
            (dict(manage_stock=True, stock_quantity=5, stock_status="instock"), 5, "low-stock"),
            (dict(manage_stock=True, stock_quantity=0, stock_status="outofstock"), 0, "out-of-stock"),
            (dict(manage_stock=True, stock_quantity=-3, stock_status="onbackorder"), 0, "on-request"),
            (dict(manage_stock="parent", stock_quantity=9, stock_status="instock"), 9, "in-stock"),
        ]
        for fields, quantity, availability in cases:
            with self.subTest(fields):
                got = item(product(**fields), low_stock_threshold="5")
                self.assertEqual((got.quantity, got.availability), (quantity, availability))

    def test_no_price_is_on_request_unless_out_of_stock(self):
        self.assertEqual(item(product(price="")).availability, "on-request")
        self.assertIsNone(item(product(price="")).price_minor)
        self.assertIsNone(item(product(price="")).currency)
        self.assertEqual(item(product(price="", stock_status="outofstock")).availability, "out-of-stock")

    def test_unknown_stock_status_is_rejected(self):
        (rej,) = run(product(stock_status="preorder")).rejected
        self.assertEqual(rej.path, "$.stock_status")
        self.assertIn("instock, outofstock or onbackorder", rej.message)


class Records(unittest.TestCase):
    def test_unpublished_products_are_deleted(self):
        for status in ("draft", "pending", "private", "trash"):
            with self.subTest(status):
                self.assertEqual(run(product(status=status)).changes, [Delete("794", "2017-03-23T20:01:14")])

    def test_an_unpublished_variable_product_deletes_its_variations(self):
        p = json.loads(fixture("variable-product.input.json"))
        p.update(status="private", variations=[800, 801])
        self.assertEqual(
            run(p).changes, [Delete("800", "2017-03-23T20:03:12"), Delete("801", "2017-03-23T20:03:12")]
        )

    def test_variations_after_their_product_inherit_its_name_and_category(self):
        parent = json.loads(fixture("variable-product.input.json"))
        parent["id"] = 22
        variations = json.loads(fixture("variations-list.input.json"))
        changes = run([parent] + variations).changes
        self.assertEqual([c.name for c in changes], ["Ship Your Idea - Green", "Ship Your Idea - Black"])
        self.assertEqual({c.category for c in changes}, {"Clothing"})
        self.assertEqual({c.parent_ref for c in changes}, {"22"})

    def test_modern_variation_fields_are_used(self):
        v = json.loads(fixture("variations-list.input.json"))[0]
        v.update(name="Ship Your Idea - Green", type="variation", parent_id=799, global_unique_id="0123456789012")
        got = item(v)
        self.assertEqual((got.name, got.parent_ref, got.barcode), ("Ship Your Idea - Green", "799", "0123456789012"))

    def test_grouped_and_external_products_are_not_items(self):
        self.assertEqual(run([product(type="grouped"), product(type="external")]).changes, [])

    def test_names_and_descriptions_are_plain_text(self):
        got = item(product(name="Fish &amp; Chips", short_description="", description="<p>Hot <b>and</b>\n fresh</p><script>x()</script>"))
        self.assertEqual((got.name, got.description), ("Fish & Chips", "Hot and fresh"))

    def test_bad_records_are_rejected_one_by_one(self):
        mapped = run([PRODUCT, "x", {"name": "no id"}, product(id=5, categories=3), product(id=6, manage_stock=True, stock_quantity="7")])
        self.assertEqual(len(mapped.changes), 1)
        self.assertEqual(
            [(r.record_id, r.path) for r in mapped.rejected],
            [(None, "$[1]"), (None, "$[2].id"), ("5", "$[3].categories"), ("6", "$[4].stock_quantity")],
        )


class Payloads(unittest.TestCase):
    def assertInvalid(self, data, path):
        with self.assertRaises(AdapterFailure) as ctx:
            run(data)
        self.assertEqual((ctx.exception.kind, ctx.exception.path), ("invalid-input", path))
        return ctx.exception

    def test_truncated_json_is_invalid_input_with_a_path(self):
        data = fixture("products-list.input.json")
        self.assertInvalid(data[:1], "$[0]")
        err = self.assertInvalid(data[: len(data) // 2], "$[0]")
        self.assertIn("line", err.message)
        self.assertInvalid(data[:-1], "$[1]")
        self.assertInvalid(fixture("simple-product.input.json")[:-1], "$")

    def test_wrong_shapes(self):
        for data in (b"42", b'"x"', b"null", b"true", b"", b"\xff\xfe", b"[1,]", b"{} {}", b"[NaN]"):
            with self.subTest(data):
                with self.assertRaises(AdapterFailure) as ctx:
                    run(data)
                self.assertEqual(ctx.exception.kind, "invalid-input")
                self.assertIsNotNone(ctx.exception.path)
        self.assertEqual(run(b"[]").changes, [])
        self.assertEqual(run(b"{}").rejected[0].path, "$.id")

    def test_missing_or_bad_settings_are_not_configured(self):
        for settings in ({}, {"currency": "ngn"}, {"currency": "NGN", "low_stock_threshold": "few"}, {"currency": "NGN", "prices_include_tax": "false"}):
            with self.subTest(settings):
                with self.assertRaises(AdapterFailure) as ctx:
                    map_payload(fixture("simple-product.input.json"), settings.get)
                self.assertEqual(ctx.exception.kind, "not-configured")


if __name__ == "__main__":
    unittest.main()

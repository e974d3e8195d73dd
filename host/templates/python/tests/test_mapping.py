"""The mapping under plain CPython: the golden fixtures in `fixtures/` (the
same files `snapact-host adapter test` checks against the built component),
then the rules one by one. Run from the adapter's folder:
`python3 -m unittest`."""

import json
import os
import sys
import unittest

ADAPTER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ADAPTER not in sys.path:
    sys.path.insert(0, ADAPTER)

import mapping  # noqa: E402
import money  # noqa: E402

FIXTURES = os.path.join(ADAPTER, "fixtures")
SETTINGS = mapping.Settings(currency="NGN", low_stock_threshold=5)


def read(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def feed(*products, settings=SETTINGS):
    return mapping.map_payload(json.dumps({"products": list(products)}).encode(), settings)


def item(product):
    result = feed(product)
    assert not result.rejected, result.rejected
    (change,) = result.changes
    return change


def rejection(product, settings=SETTINGS):
    result = feed(product, settings=settings)
    assert not result.changes, result.changes
    (r,) = result.rejected
    assert r.message
    return r.record_id, r.path


class GoldenFixtures(unittest.TestCase):
    def test_every_fixture_maps_to_its_expected_output(self):
        names = sorted(f[: -len(".input.json")] for f in os.listdir(FIXTURES) if f.endswith(".input.json"))
        self.assertGreaterEqual(len(names), 3)
        for name in names:
            with self.subTest(name):
                settings = {}
                if os.path.exists(os.path.join(FIXTURES, f"{name}.settings.json")):
                    settings = json.loads(read(f"{name}.settings.json"))
                expected = json.loads(read(f"{name}.expected.json"))
                payload = read(f"{name}.input.json")
                if isinstance(expected, dict) and "error" in expected:
                    with self.assertRaises(mapping.Failure) as ctx:
                        mapping.map_payload(payload, mapping.Settings.load(settings.get))
                    self.assertEqual(ctx.exception.kind, expected["error"]["kind"])
                    self.assertEqual(ctx.exception.path, expected["error"]["path"])
                    continue
                result = mapping.map_payload(payload, mapping.Settings.load(settings.get))
                changes = [mapping.change_to_json(c) for c in result.changes]
                rejected = [{"record_id": r.record_id, "path": r.path} for r in result.rejected]
                if isinstance(expected, list):
                    self.assertEqual(changes, expected)
                    self.assertEqual(rejected, [])
                else:
                    self.assertEqual(changes, expected["changes"])
                    self.assertEqual(rejected, [{"record_id": r["record_id"], "path": r["path"]} for r in expected["rejected"]])


class Money(unittest.TestCase):
    def test_prices_are_exact_in_the_currencys_minor_unit(self):
        for amount, currency, minor in [
            ("0.29", "USD", 29),  # 0.29 * 100 is 28.999999999999996 in binary floating point
            ("1500", "NGN", 150000),
            ("1200", "JPY", 1200),
            ("1.234", "KWD", 1234),
            ("12.500", "USD", 1250),
            ("7.", "EUR", 700),
            (".25", "EUR", 25),
            ("9223372036854775807", "JPY", 2**63 - 1),
        ]:
            self.assertEqual(money.to_minor(amount, currency), minor, amount)

    def test_what_is_not_an_exact_price_is_refused(self):
        for amount, currency in [("1.999", "USD"), ("12,50", "USD"), ("", "USD"), (".", "USD"), ("1e3", "USD"),
                                 ("1", "XYZ"), ("9223372036854775808", "JPY"), ("9" * 5000, "USD")]:
            with self.assertRaises(money.MoneyError, msg=amount[:20]):
                money.to_minor(amount, currency)

    def test_bad_prices_reject_only_their_product(self):
        for price in ["1.999", "-1.00", "12,50", "", 12.5, True]:
            self.assertEqual(rejection({"id": "A", "name": "A", "price": price, "currency": "USD"}),
                             ("A", "$.products[0].price"), price)


class Mapping(unittest.TestCase):
    def test_availability_follows_quantity_and_the_threshold(self):
        def availability(quantity):
            return item({"id": 1, "name": "A", "price": "1", "quantity": quantity}).availability

        self.assertEqual(availability(None), mapping.IN_STOCK)
        self.assertEqual(availability(0), mapping.OUT_OF_STOCK)
        self.assertEqual(availability(-3), mapping.OUT_OF_STOCK)
        self.assertEqual(availability(5), mapping.LOW_STOCK)
        self.assertEqual(availability("6"), mapping.IN_STOCK)
        self.assertEqual(item({"id": 1, "name": "A", "quantity": 9}).availability, mapping.ON_REQUEST)
        self.assertEqual(item({"id": 1, "name": "A", "price": "1", "quantity": -3}).quantity, 0)

    def test_ids_are_kept_exactly(self):
        self.assertEqual(item({"id": 18446744073709551615, "name": "A"}).external_ref, "18446744073709551615")
        for bad in [1.5, "", None, [], True]:
            self.assertEqual(rejection({"id": bad, "name": "A"}), (None, "$.products[0].id"), bad)

    def test_a_product_without_currency_needs_the_setting(self):
        self.assertEqual(rejection({"id": "A", "name": "A", "price": "1"}, settings=mapping.Settings()),
                         ("A", "$.products[0].currency"))

    def test_what_is_not_a_feed_fails_as_a_whole_with_a_path(self):
        for payload, path in [(b'{"products": [', "$"), (b"[]", "$"), (b"{}", "$.products"),
                              (b'{"products": {}}', "$.products"), (b"\xff", "$"), (b"[" * 100000, "$"),
                              (b'{"products": [NaN]}', "$")]:
            with self.assertRaises(mapping.Failure, msg=payload[:20]) as ctx:
                mapping.map_payload(payload, SETTINGS)
            self.assertEqual((ctx.exception.kind, ctx.exception.path), (mapping.Failure.INVALID_INPUT, path))
        self.assertEqual(mapping.map_payload(b'\xef\xbb\xbf{"products": []}', SETTINGS).changes, [])

    def test_malformed_settings_are_not_configured(self):
        for key, value in [("currency", "naira"), ("low_stock_threshold", "few")]:
            with self.assertRaises(mapping.Failure) as ctx:
                mapping.Settings.load({key: value}.get)
            self.assertEqual(ctx.exception.kind, mapping.Failure.NOT_CONFIGURED)
            self.assertIn(key, ctx.exception.message)
        self.assertEqual(mapping.Settings.load({"currency": " ngn "}.get).currency, "NGN")


if __name__ == "__main__":
    unittest.main()

"""The feed and its mapping: {"products": [...]} to SnapAct changes.

One change per product; a product that breaks a rule becomes a rejection
(its id, the JSON path of the offending field, the reason) and the others
are still delivered. Only a payload that is not a feed at all fails the
whole call. Plain Python with no host imports: `app.py` converts the result
to the WIT types, and `python3 -m unittest` runs it without a component.
"""

import decimal
import json
import re
from dataclasses import dataclass, field
from typing import List, Optional

import money

SETTING_CURRENCY = "currency"
SETTING_LOW_STOCK = "low_stock_threshold"

IN_STOCK = "in-stock"
LOW_STOCK = "low-stock"
OUT_OF_STOCK = "out-of-stock"
ON_REQUEST = "on-request"

# CPython's C JSON decoder recurses once per nesting level and, compiled to
# Wasm, runs out of stack (a trap no `except` can catch) long before Python's
# recursion limit. A feed is three levels deep; deeper input is refused
# before decoding.
MAX_DEPTH = 64

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_U64_MAX = 2**64 - 1
_WHOLE = re.compile(r"[+-]?[0-9]+")
# A string literal, closed or running to the end of a truncated payload.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class Failure(Exception):
    """The whole call failed; `kind` is the WIT `adapter-error` case."""

    INVALID_INPUT = "invalid-input"
    NOT_CONFIGURED = "not-configured"

    def __init__(self, kind, message, path=None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.path = path


class RecordError(Exception):
    """One product cannot be mapped: it becomes a rejection at `path`."""

    def __init__(self, path, message):
        super().__init__(message)
        self.path = path
        self.message = message


@dataclass
class Item:
    external_ref: str
    name: str
    price_minor: Optional[int]
    currency: Optional[str]
    quantity: Optional[int]
    availability: str
    sku: Optional[str] = None
    barcode: Optional[str] = None
    category: Optional[str] = None
    description: Optional[str] = None
    image_url: Optional[str] = None
    source_version: Optional[str] = None


@dataclass
class Delete:
    external_ref: str
    source_version: Optional[str] = None


@dataclass
class Rejection:
    record_id: Optional[str]
    path: Optional[str]
    message: str


@dataclass
class Mapped:
    changes: List[object] = field(default_factory=list)
    rejected: List[Rejection] = field(default_factory=list)


@dataclass
class Settings:
    """The shop's settings, checked once per call."""

    currency: Optional[str] = None
    low_stock_threshold: Optional[int] = None

    @staticmethod
    def load(get):
        """Read the settings through `get` (the host's `settings.get` in the
        component, `dict.get` in tests); a malformed one is `not-configured`."""

        def value(key):
            raw = get(key)
            return raw.strip() if isinstance(raw, str) and raw.strip() else None

        currency = value(SETTING_CURRENCY)
        if currency is not None:
            if money.exponent(currency.upper()) is None:
                raise Failure(
                    Failure.NOT_CONFIGURED,
                    f"setting `{SETTING_CURRENCY}` is {currency!r}, not an ISO 4217 currency code such as \"NGN\"",
                )
            currency = currency.upper()
        threshold = value(SETTING_LOW_STOCK)
        if threshold is not None:
            if not _WHOLE.fullmatch(threshold) or not _I64_MIN <= int(threshold) <= _I64_MAX:
                raise Failure(
                    Failure.NOT_CONFIGURED, f"setting `{SETTING_LOW_STOCK}` must be a whole number, got {threshold!r}"
                )
            threshold = int(threshold)
        return Settings(currency, threshold)


def invalid_input(message, path):
    return Failure(Failure.INVALID_INPUT, message, path)


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, decimal.Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _check_depth(text):
    """Refuse JSON nested deeper than MAX_DEPTH, counted outside strings."""
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise invalid_input(f"JSON nested more than {MAX_DEPTH} levels deep; a product feed is 3 levels deep", "$")
        else:
            depth -= 1


def parse(payload):
    """Decode the payload exactly: numbers as int or Decimal, never float."""
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid_input(f"payload is not UTF-8 text (byte {e.start})", "$") from None
    # Feeds saved by spreadsheet tools often start with a byte order mark.
    if text.startswith("\ufeff"):
        text = text[1:]
    _check_depth(text)
    try:
        return json.loads(text, parse_float=decimal.Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise invalid_input(f"payload is not valid JSON: {e.msg} at line {e.lineno} column {e.colno}", "$") from None
    except ValueError as e:
        raise invalid_input(f"payload is not valid JSON: {e}", "$") from None


def map_payload(payload, settings):
    """Map a feed to `Mapped`. Not JSON, or no `products` array, raises an
    `invalid-input` Failure with the JSON path."""
    doc = parse(payload)
    if not isinstance(doc, dict):
        raise invalid_input(f"expected a product feed: an object with a `products` array, found {_kind(doc)}", "$")
    products = doc.get("products")
    if products is None:
        raise invalid_input("missing required field `products`", "$.products")
    if not isinstance(products, list):
        raise invalid_input(f"expected an array, found {_kind(products)}", "$.products")
    out = Mapped()
    for i, product in enumerate(products):
        path = f"$.products[{i}]"
        try:
            out.changes.append(map_product(product, path, settings))
        except RecordError as e:
            out.rejected.append(Rejection(_record_id(product), e.path, e.message))
    return out


def _record_id(product):
    """The product's id, when it can be read, for its rejection."""
    if not isinstance(product, dict):
        return None
    try:
        return _id(product.get("id"), "")
    except RecordError:
        return None


def _id(value, path):
    """An id as a string, exactly: strings as they are, integers by their digits."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and _I64_MIN <= value <= _U64_MAX:
        return str(value)
    if value is None:
        raise RecordError(path, "missing required field `id`")
    raise RecordError(path, f"expected an id (a non-empty string or an integer), found {_kind(value)}")


def map_product(p, path, settings):
    """One product: an Item, or a Delete when `deleted` is true."""
    if not isinstance(p, dict):
        raise RecordError(path, f"expected a product object, found {_kind(p)}")
    external_ref = _id(p.get("id"), f"{path}.id")
    source_version = _opt_str(p, "updated_at", path)
    deleted = p.get("deleted")
    if deleted is not None and not isinstance(deleted, bool):
        raise RecordError(f"{path}.deleted", f"expected true or false, found {_kind(deleted)}")
    if deleted:
        return Delete(external_ref, source_version)
    name = p.get("name")
    if name is None:
        raise RecordError(f"{path}.name", "missing required field `name`")
    if not isinstance(name, str):
        raise RecordError(f"{path}.name", f"expected a string, found {_kind(name)}")
    name = name.strip()
    if not name:
        raise RecordError(f"{path}.name", "`name` is empty: buyers need a name to find the product")
    price_minor, currency = _price(p, path, settings)
    raw_quantity = p.get("quantity")
    quantity = None if raw_quantity is None else _quantity(raw_quantity, f"{path}.quantity")
    if price_minor is None:
        # No fixed price: the buyer agrees it with the shop.
        availability = ON_REQUEST
    else:
        availability = availability_for(quantity, settings.low_stock_threshold)
    return Item(
        external_ref,
        name,
        price_minor,
        currency,
        quantity,
        availability,
        sku=_text(p, "sku", path),
        barcode=_text(p, "barcode", path),
        category=_text(p, "category", path),
        description=_text(p, "description", path),
        image_url=_text(p, "image_url", path),
        source_version=source_version,
    )


def _price(p, path, settings):
    """`price` as exact minor units and its currency; absent or null is no fixed price."""
    value = p.get("price")
    if value is None:
        return None, None
    if not isinstance(value, str):
        raise RecordError(
            f"{path}.price",
            "expected the price as a decimal string such as \"12.50\": a JSON number is not exact in every language",
        )
    currency = _currency(p, path, settings)
    try:
        minor = money.to_minor(value, currency)
    except money.MoneyError as e:
        raise RecordError(f"{path}.price", str(e)) from None
    if minor < 0:
        raise RecordError(f"{path}.price", f"price {value!r} is negative")
    return minor, currency


def _currency(p, path, settings):
    """The product's `currency`, or the shop's `currency` setting."""
    value = p.get("currency")
    if value is None:
        if settings.currency is None:
            raise RecordError(
                f"{path}.currency", "no currency: give the product a `currency` or set the shop's `currency` setting"
            )
        return settings.currency
    if not isinstance(value, str):
        raise RecordError(f"{path}.currency", f"expected a string, found {_kind(value)}")
    code = value.strip().upper()
    if money.exponent(code) is None:
        raise RecordError(f"{path}.currency", f"{value[:40]!r} is not an ISO 4217 currency code such as \"NGN\"")
    return code


def _quantity(value, path):
    """A whole number, as a JSON integer or a string of digits. Negative
    stock (oversold) is nothing on the shelf: 0."""
    quantity = None
    if isinstance(value, int) and not isinstance(value, bool):
        quantity = value
    elif isinstance(value, str) and len(value) <= 40 and _WHOLE.fullmatch(value.strip()):
        quantity = int(value.strip())
    if quantity is None or not _I64_MIN <= quantity <= _I64_MAX:
        raise RecordError(path, "expected the quantity as a whole number (or a string of digits) within 64 bits")
    return max(quantity, 0)


def availability_for(quantity, threshold):
    """Untracked (None) is in stock; zero is out of stock; at or below the
    threshold is low stock."""
    if quantity is None:
        return IN_STOCK
    if quantity <= 0:
        return OUT_OF_STOCK
    if threshold is not None and quantity <= threshold:
        return LOW_STOCK
    return IN_STOCK


def _opt_str(p, key, path):
    value = p.get(key)
    if value is not None and not isinstance(value, str):
        raise RecordError(f"{path}.{key}", f"expected a string, found {_kind(value)}")
    return value


def _text(p, key, path):
    """An optional text field; blank is absent."""
    value = _opt_str(p, key, path)
    if value is None:
        return None
    value = value.strip()
    return value or None


_OPTIONAL = ("sku", "barcode", "category", "description", "image_url", "source_version")


def change_to_json(change):
    """One change as `snapact-host adapter map` prints it (the golden form)."""
    if isinstance(change, Delete):
        out = {"op": "delete", "external_ref": change.external_ref}
        if change.source_version is not None:
            out["source_version"] = change.source_version
        return out
    item = {
        "external_ref": change.external_ref,
        "name": change.name,
        "price_minor": change.price_minor,
        "currency": change.currency,
        "quantity": change.quantity,
        "availability": change.availability,
    }
    for key in _OPTIONAL:
        value = getattr(change, key)
        if value is not None:
            item[key] = value
    return {"op": "upsert", "item": item}

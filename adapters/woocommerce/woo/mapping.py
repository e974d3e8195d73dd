"""WooCommerce products and variations -> SnapAct catalog changes.

One item per sellable thing: a simple product is one item keyed by its id; a
variable product sells through its variations, each one item keyed by the
variation id with the product as `parent_ref`. See README.md for the
field-by-field table.
"""

import decimal
import html
import re
from dataclasses import dataclass
from typing import Optional

from . import money
from .model import (
    IN_STOCK,
    LOW_STOCK,
    ON_REQUEST,
    OUT_OF_STOCK,
    Delete,
    Item,
    Mapped,
    Rejection,
    not_configured,
)
from .payload import records

SETTING_CURRENCY = "currency"
SETTING_LOW_STOCK = "low_stock_threshold"
SETTING_PRICES_INCLUDE_TAX = "prices_include_tax"
SETTING_TAX_RATE = "tax_rate_percent"

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
_SPACE = re.compile(r"\s+")
_UP_LINK = re.compile(r"/products/(\d+)/?\Z")


@dataclass
class Config:
    """The shop's settings, validated once per call."""

    currency: str
    low_stock_threshold: Optional[int]
    # None: WooCommerce prices already include tax (the buyer price).
    tax_rate_percent: Optional[decimal.Decimal]

    @staticmethod
    def load(get):
        currency = (get(SETTING_CURRENCY) or "").strip()
        if not currency:
            raise not_configured(
                f"setting `{SETTING_CURRENCY}` is required: the store currency as WooCommerce shows it under "
                "Settings > General > Currency options, e.g. \"NGN\""
            )
        if money.exponent(currency) is None:
            raise not_configured(
                f"setting `{SETTING_CURRENCY}` is {currency!r}, which is not an ISO 4217 currency code such as \"NGN\""
            )
        threshold = None
        raw = get(SETTING_LOW_STOCK)
        if raw is not None and raw.strip():
            try:
                threshold = int(raw.strip())
            except ValueError:
                raise not_configured(f"setting `{SETTING_LOW_STOCK}` must be a whole number, got {raw!r}") from None
        include = (get(SETTING_PRICES_INCLUDE_TAX) or "true").strip().lower()
        if include not in ("true", "false"):
            raise not_configured(f"setting `{SETTING_PRICES_INCLUDE_TAX}` must be \"true\" or \"false\", got {include!r}")
        rate = None
        if include == "false":
            raw = get(SETTING_TAX_RATE)
            try:
                rate = money.parse_amount(raw or "")
            except money.MoneyError:
                raise not_configured(
                    f"setting `{SETTING_PRICES_INCLUDE_TAX}` is \"false\", so setting `{SETTING_TAX_RATE}` must be "
                    f"the tax rate added to WooCommerce prices, e.g. \"7.5\"; got {raw!r}"
                ) from None
            if rate < 0 or rate > 100:
                raise not_configured(f"setting `{SETTING_TAX_RATE}` must be between 0 and 100, got {raw!r}")
        return Config(currency, threshold, rate)


@dataclass
class Parent:
    """What a variation inherits from its variable product."""

    id: str
    name: str
    published: bool
    category: Optional[str]
    description: Optional[str]
    image_url: Optional[str]


class RecordError(Exception):
    """One record cannot be mapped: becomes a `rejection`."""

    def __init__(self, record_id, path, message):
        super().__init__(message)
        self.record_id = record_id
        self.path = path
        self.message = message


def clean_text(value):
    """HTML to plain text: tags dropped, entities decoded, spaces collapsed."""
    text = _SPACE.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()
    return text or None


def availability_from_quantity(quantity, threshold):
    if quantity <= 0:
        return OUT_OF_STOCK
    if threshold is not None and quantity <= threshold:
        return LOW_STOCK
    return IN_STOCK


class Mapper:
    """Maps the records of one call. Variable products seen earlier in the
    same payload (or fetched by `poll`) lend their name, category,
    description, image and publish status to their variations."""

    def __init__(self, config):
        self.config = config
        self.parents = {}

    def map_into(self, mapped, record, path, parent=None):
        try:
            mapped.changes.extend(self.record(record, path, parent))
        except RecordError as e:
            mapped.rejected.append(Rejection(e.record_id, e.path, e.message))

    # -- one record -------------------------------------------------------

    def record(self, p, path, parent=None):
        if not isinstance(p, dict):
            raise RecordError(None, path, f"expected a product or variation object, got {_kind(p)}")
        rid = self._id(p, path)
        kind = p.get("type")
        if kind is None:
            # The variations endpoint of WooCommerce before 8.x has no `type`;
            # every product has one.
            kind = "variation"
        if not isinstance(kind, str):
            raise RecordError(rid, f"{path}.type", f"expected a string, got {_kind(kind)}")
        status = self._str(p, "status", rid, path, default="publish")
        version = self._str(p, "date_modified_gmt", rid, path)
        if kind == "variable" or kind.startswith("variable-"):
            return self._variable(p, rid, path, status, version)
        if kind in ("grouped", "external"):
            # A grouped product only lists other products (mapped themselves);
            # an external product is sold on another site.
            return []
        is_variation = kind == "variation" or kind.endswith("_variation")
        parent_ref = None
        if is_variation:
            parent_ref = self._parent_ref(p, rid, path)
            if parent is None and parent_ref is not None:
                parent = self.parents.get(parent_ref)
        if status != "publish" or (parent is not None and not parent.published):
            return [Delete(rid, version)]
        return [self._item(p, rid, path, version, parent_ref, parent if is_variation else None)]

    def _variable(self, p, rid, path, status, version):
        published = status == "publish"
        self.parents[rid] = Parent(
            id=rid,
            name=self._name(p, rid, path, required=False) or "",
            published=published,
            category=self._category(p, rid, path),
            description=self._description(p, rid, path),
            image_url=self._first_image(p, rid, path),
        )
        if published:
            # Sold through its variations, which are records of their own.
            return []
        ids = p.get("variations", [])
        if not isinstance(ids, list):
            raise RecordError(rid, f"{path}.variations", f"expected an array of variation ids, got {_kind(ids)}")
        deletes = []
        for i, vid in enumerate(ids):
            if isinstance(vid, bool) or not isinstance(vid, int) or vid <= 0:
                raise RecordError(rid, f"{path}.variations[{i}]", f"expected a variation id, got {_kind(vid)}")
            deletes.append(Delete(str(vid), version))
        return deletes

    def _item(self, p, rid, path, version, parent_ref, parent):
        name = self._name(p, rid, path, required=False)
        if name is None and parent_ref is not None:
            name = self._variation_name(p, rid, path, parent)
        if name is None:
            raise RecordError(rid, f"{path}.name", "has no name: give the product a title in WooCommerce")
        price_minor = self._price(p, rid, path)
        quantity, availability = self._stock(p, rid, path)
        if price_minor is None and availability in (IN_STOCK, LOW_STOCK):
            availability = ON_REQUEST
        category = self._category(p, rid, path)
        description = self._description(p, rid, path)
        image_url = self._first_image(p, rid, path)
        if parent is not None:
            category = category or parent.category
            description = description or parent.description
            image_url = image_url or parent.image_url
        barcode = self._str(p, "global_unique_id", rid, path)
        sku = self._str(p, "sku", rid, path)
        return Item(
            external_ref=rid,
            name=name,
            price_minor=price_minor,
            currency=self.config.currency if price_minor is not None else None,
            quantity=quantity,
            availability=availability,
            sku=sku.strip() or None if sku else None,
            barcode=barcode.strip() or None if barcode else None,
            category=category,
            description=description,
            image_url=image_url,
            parent_ref=parent_ref,
            source_version=version or None,
        )

    # -- fields -----------------------------------------------------------

    def _id(self, p, path):
        value = p.get("id")
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            found = "nothing" if value is None else _kind(value)
            raise RecordError(None, f"{path}.id", f"expected the WooCommerce id (a positive integer), got {found}")
        return str(value)

    def _str(self, p, key, rid, path, default=None):
        value = p.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise RecordError(rid, f"{path}.{key}", f"expected a string, got {_kind(value)}")
        return value

    def _name(self, p, rid, path, required):
        raw = self._str(p, "name", rid, path)
        return clean_text(raw) if raw else None

    def _variation_name(self, p, rid, path, parent):
        # WooCommerce names a variation "<product> - <option>, <option>".
        pairs = []
        attrs = p.get("attributes", [])
        if isinstance(attrs, list):
            for a in attrs:
                if isinstance(a, dict) and isinstance(a.get("option"), str) and a["option"].strip():
                    label = a.get("name") if isinstance(a.get("name"), str) else ""
                    pairs.append((label.strip(), a["option"].strip()))
        if parent is not None and parent.name:
            options = ", ".join(option for _, option in pairs)
            return f"{parent.name} - {options}" if options else parent.name
        if pairs:
            # Without the product at hand: "Color: Green", as WooCommerce
            # lists variation attributes.
            return ", ".join(f"{label}: {option}" if label else option for label, option in pairs)
        return None

    def _price(self, p, rid, path):
        raw = p.get("price")
        if raw is None or raw == "":
            return None
        try:
            amount = money.parse_amount(raw)
            if amount < 0:
                raise money.MoneyError(f"{raw} is negative")
            minor = money.to_minor(amount, self.config.currency)
            if self.config.tax_rate_percent is not None and p.get("tax_status", "taxable") == "taxable":
                minor = money.add_tax(minor, self.config.tax_rate_percent)
        except money.MoneyError as e:
            raise RecordError(rid, f"{path}.price", str(e)) from None
        return minor

    def _stock(self, p, rid, path):
        manage = p.get("manage_stock", False)
        # Variations answer "parent" when the product manages their stock.
        tracked = manage is True or manage == "parent"
        if not tracked and manage not in (False, None):
            raise RecordError(rid, f"{path}.manage_stock", f"expected true, false or \"parent\", got {_kind(manage)}")
        quantity = None
        if tracked:
            raw = p.get("stock_quantity")
            if raw is not None:
                if isinstance(raw, bool) or not isinstance(raw, int):
                    raise RecordError(rid, f"{path}.stock_quantity", f"expected a whole number, got {_kind(raw)}")
                # Backorders drive WooCommerce stock below zero; on the shelf
                # there is nothing.
                quantity = max(raw, 0)
        status = p.get("stock_status", "instock")
        if status == "outofstock":
            return quantity, OUT_OF_STOCK
        if status == "onbackorder":
            return quantity, ON_REQUEST
        if status == "instock":
            if quantity is None:
                return None, IN_STOCK
            return quantity, availability_from_quantity(quantity, self.config.low_stock_threshold)
        raise RecordError(
            rid, f"{path}.stock_status", f"unknown stock status {status!r}: expected instock, outofstock or onbackorder"
        )

    def _category(self, p, rid, path):
        cats = p.get("categories")
        if cats is None or cats == []:
            return None
        if not isinstance(cats, list) or not isinstance(cats[0], dict):
            raise RecordError(rid, f"{path}.categories", "expected an array of {id, name, slug} objects")
        name = cats[0].get("name")
        if name is not None and not isinstance(name, str):
            raise RecordError(rid, f"{path}.categories[0].name", f"expected a string, got {_kind(name)}")
        return clean_text(name) if name else None

    def _description(self, p, rid, path):
        for key in ("short_description", "description"):
            raw = self._str(p, key, rid, path)
            text = clean_text(raw) if raw else None
            if text:
                return text
        return None

    def _first_image(self, p, rid, path):
        images = p.get("images")
        if isinstance(images, list) and images:
            return self._image_src(images[0], rid, f"{path}.images[0]")
        if images not in (None, []) and not isinstance(images, list):
            raise RecordError(rid, f"{path}.images", f"expected an array of images, got {_kind(images)}")
        image = p.get("image")
        if image is None or image == []:
            return None
        return self._image_src(image, rid, f"{path}.image")

    def _image_src(self, image, rid, path):
        if not isinstance(image, dict):
            raise RecordError(rid, path, f"expected an image object, got {_kind(image)}")
        src = image.get("src")
        if src is None or src == "":
            return None
        if not isinstance(src, str):
            raise RecordError(rid, f"{path}.src", f"expected a URL string, got {_kind(src)}")
        return src

    def _parent_ref(self, p, rid, path):
        parent_id = p.get("parent_id")
        if isinstance(parent_id, int) and not isinstance(parent_id, bool) and parent_id > 0:
            return str(parent_id)
        if parent_id not in (None, 0):
            raise RecordError(rid, f"{path}.parent_id", f"expected the product id, got {_kind(parent_id)}")
        # Older variation responses carry the parent only as a link.
        links = p.get("_links")
        if isinstance(links, dict):
            up = links.get("up")
            if isinstance(up, list) and up and isinstance(up[0], dict) and isinstance(up[0].get("href"), str):
                m = _UP_LINK.search(up[0]["href"])
                if m:
                    return m.group(1)
        return None


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, decimal.Decimal)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def map_payload(data, get_setting):
    """`map-records`: a product, a variation, or an array of them."""
    config = Config.load(get_setting)
    mapper = Mapper(config)
    mapped = Mapped()
    for path, record in records(data):
        mapper.map_into(mapped, record, path)
    return mapped

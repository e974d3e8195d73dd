"""What the mapping produces, as plain Python values.

`app.py` converts these to the WIT types; the tests render them with
`to_json` in exactly the form `snapact-host adapter map` prints.
"""

from dataclasses import dataclass, field
from typing import List, Optional

IN_STOCK = "in-stock"
LOW_STOCK = "low-stock"
OUT_OF_STOCK = "out-of-stock"
ON_REQUEST = "on-request"


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
    parent_ref: Optional[str] = None
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
class PollPage:
    changes: List[object]
    rejected: List[Rejection]
    cursor: Optional[str]
    more: bool


@dataclass
class OrderRef:
    id: str
    number: Optional[str]


class AdapterFailure(Exception):
    """A whole call failed; `kind` is the WIT `adapter-error` case."""

    INVALID_INPUT = "invalid-input"
    UNSUPPORTED = "unsupported"
    UPSTREAM = "upstream"
    NOT_CONFIGURED = "not-configured"
    UNAUTHENTICATED = "unauthenticated"

    def __init__(self, kind, message, path=None, status=None, retryable=False):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.path = path
        self.status = status
        self.retryable = retryable

    def __repr__(self):
        return f"AdapterFailure({self.kind!r}, {self.message!r}, path={self.path!r})"


def invalid_input(message, path="$"):
    return AdapterFailure(AdapterFailure.INVALID_INPUT, message, path=path)


def not_configured(message):
    return AdapterFailure(AdapterFailure.NOT_CONFIGURED, message)


def upstream(message, status=None, retryable=False):
    return AdapterFailure(AdapterFailure.UPSTREAM, message, status=status, retryable=retryable)


_OPTIONAL = ("sku", "barcode", "category", "description", "image_url", "parent_ref", "source_version")


def change_to_json(change):
    """One change in the `adapter map` / golden-fixture form."""
    if isinstance(change, Item):
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
    out = {"op": "delete", "external_ref": change.external_ref}
    if change.source_version is not None:
        out["source_version"] = change.source_version
    return out


def to_json(mapped):
    """A mapping result as a golden `NAME.expected.json` holds it."""
    changes = [change_to_json(c) for c in mapped.changes]
    if not mapped.rejected:
        return changes
    return {
        "changes": changes,
        "rejected": [{"record_id": r.record_id, "path": r.path, "message": r.message} for r in mapped.rejected],
    }

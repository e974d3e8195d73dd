"""`poll`: products changed since the last cycle, with their variations.

The cursor is opaque to the host; it is JSON:
`{"v": 1, "after": T|null, "since": T|null, "page": N, "done": ID}`.
`after` is this cycle's `modified_after` filter (GMT), `since` the shop's
clock when the cycle began (next cycle's `after`), `page` the products page
being read and `done` the last product id on it already delivered.

Products are read ordered by id, so a product modified while a cycle runs
never shifts one not yet read; each call makes at most `REQUEST_BUDGET`
requests and says `more` until the cycle is done.
"""

import json
import re

from .host import call
from .mapping import Config, Mapper
from .model import Mapped, PollPage, invalid_input, upstream

PER_PAGE = 100
REQUEST_BUDGET = 5

_MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
_HTTP_DATE = re.compile(r"\w{3}, (\d{2}) (\w{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT")
_GMT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\Z")


def _read_cursor(cursor):
    if cursor is None:
        return {"after": None, "since": None, "page": 1, "done": 0}
    try:
        state = json.loads(cursor)
        ok = (
            isinstance(state, dict)
            and state.get("v") == 1
            and all(state.get(k) is None or (isinstance(state[k], str) and _GMT.match(state[k])) for k in ("after", "since"))
            and isinstance(state.get("page"), int)
            and state["page"] >= 1
            and isinstance(state.get("done"), int)
        )
    except ValueError:
        ok = False
    if not ok:
        raise invalid_input("not a cursor this adapter wrote; reset the shop's poll cursor to start a full sync", "$cursor")
    return state


def _write_cursor(state):
    return json.dumps({"v": 1, **{k: state[k] for k in ("after", "since", "page", "done")}}, separators=(",", ":"))


def server_time(headers):
    """The shop's clock from an HTTP `Date` header, as WooCommerce writes GMT
    dates (`2026-11-27T06:00:00`), or None."""
    m = _HTTP_DATE.match(headers.get("date", ""))
    if not m or m.group(2) not in _MONTHS:
        return None
    day, _, year, hh, mm, ss = m.groups()
    return f"{year}-{_MONTHS[m.group(2)]:02d}-{day}T{hh}:{mm}:{ss}"


def poll(host, cursor):
    config = Config.load(host.setting)
    state = _read_cursor(cursor)
    mapper = Mapper(config)
    mapped = Mapped()
    budget = REQUEST_BUDGET
    while budget > 0:
        query = [
            ("per_page", str(PER_PAGE)),
            ("page", str(state["page"])),
            ("orderby", "id"),
            ("order", "asc"),
            ("status", "any"),
        ]
        if state["after"]:
            query += [("modified_after", state["after"]), ("dates_are_gmt", "true")]
        resp, products = call(host, "GET", "/products", query)
        budget -= 1
        if not isinstance(products, list):
            raise upstream("WooCommerce answered GET /products with something other than an array")
        if state["page"] == 1 and state["since"] is None:
            state["since"] = server_time(resp.headers)
        resume_after = state["done"]
        for i, product in enumerate(products):
            pid = product.get("id") if isinstance(product, dict) else None
            if isinstance(pid, int) and pid <= resume_after:
                continue
            path = f"$products[page {state['page']}][{i}]"
            needs = _needs_variations(product)
            if needs and budget <= 0:
                return PollPage(mapped.changes, mapped.rejected, _write_cursor(state), True)
            mapper.map_into(mapped, product, path)
            if needs:
                budget -= _variations(host, mapper, mapped, product, path)
            if isinstance(pid, int):
                state["done"] = max(state["done"], pid)
        if len(products) < PER_PAGE:
            # Cycle done: the next starts where this one began (the shop's
            # clock; the newest change seen when the shop sends no Date).
            next_after = state["since"] or _newest(mapped) or state["after"]
            state = {"after": next_after, "since": None, "page": 1, "done": 0}
            return PollPage(mapped.changes, mapped.rejected, _write_cursor(state), False)
        state["page"] += 1
        state["done"] = 0
    return PollPage(mapped.changes, mapped.rejected, _write_cursor(state), True)


def _needs_variations(product):
    return (
        isinstance(product, dict)
        and str(product.get("type", "")).startswith("variable")
        and product.get("status", "publish") == "publish"
    )


def _variations(host, mapper, mapped, product, path):
    """Map every variation of a published variable product; returns the
    number of requests made."""
    pid = str(product["id"])
    parent = mapper.parents.get(pid)
    if parent is None:
        # The product itself was rejected; its variations wait for a fix.
        return 0
    page, requests = 1, 0
    while True:
        _, variations = call(
            host, "GET", f"/products/{pid}/variations", [("per_page", str(PER_PAGE)), ("page", str(page))]
        )
        requests += 1
        if not isinstance(variations, list):
            raise upstream(f"WooCommerce answered GET /products/{pid}/variations with something other than an array")
        for j, variation in enumerate(variations):
            if isinstance(variation, dict) and not variation.get("parent_id"):
                variation = dict(variation, parent_id=int(pid))
            mapper.map_into(mapped, variation, f"{path}.variations[page {page}][{j}]", parent)
        if len(variations) < PER_PAGE:
            return requests
        page += 1


def _newest(mapped):
    versions = [c.source_version for c in mapped.changes if getattr(c, "source_version", None)]
    return max(versions) if versions else None

"""Reading payloads: JSON decoded one top-level record at a time.

A product list of 10,000 records is read element by element, so the memory
a call needs grows with one record, not with the whole decoded document.
Numbers are decoded exactly (`Decimal`, `int`); NaN and Infinity are refused.
"""

import decimal
import json
import re

from .model import invalid_input

_WS = re.compile(r"[ \t\n\r]*")

# JSON nesting deeper than this is refused before decoding: CPython's C
# decoder recurses per level and, compiled to Wasm, overflows the stack (a
# trap) long before its recursion limit. WooCommerce records nest about 5
# deep; plugin meta data rarely more than 10.
MAX_DEPTH = 100
# A string literal (closed or running to the end), unrolled for speed.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?')
_INNERMOST = re.compile(r"\[[^\[\]{}]*\]|\{[^\[\]{}]*\}")


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_float=decimal.Decimal, parse_constant=_refuse_constant)


def _text(data):
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid_input(f"payload is not UTF-8 text (byte {e.start}); send the JSON body as WooCommerce returned it")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _check_depth(text):
    """Peel innermost `[...]`/`{...}` pairs, one nesting level per pass, at
    regex speed; more passes than `MAX_DEPTH` means too deep. Unbalanced
    input simply stops peeling and is left to the decoder to report."""
    skeleton = _STRING.sub("", text)
    for _ in range(MAX_DEPTH + 1):
        skeleton, count = _INNERMOST.subn("", skeleton)
        if count == 0:
            # What is left never closes (truncated input): the decoder would
            # still descend into every opener before finding the end.
            if skeleton.count("[") + skeleton.count("{") <= MAX_DEPTH:
                return
            break
    raise invalid_input(f"JSON nested more than {MAX_DEPTH} levels deep; WooCommerce data is never that deep")


def _syntax(e, path):
    if isinstance(e, json.JSONDecodeError):
        return invalid_input(f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}", path)
    if isinstance(e, RecursionError):
        return invalid_input("JSON nested too deeply", path)
    return invalid_input(f"not valid JSON: {e}", path)


def _decode_at(text, pos, path):
    try:
        return _DECODER.raw_decode(text, pos)
    except (ValueError, RecursionError) as e:
        raise _syntax(e, path) from None


def records(data):
    """Yield `(path, value)` for each top-level record.

    An object payload is one record at `$`; an array yields `$[i]` for each
    element. Anything else, or JSON that does not parse, raises an
    `invalid-input` failure with the path where reading stopped.
    """
    text = _text(data)
    _check_depth(text)
    pos = _WS.match(text, 0).end()
    if pos == len(text):
        raise invalid_input("payload is empty: expected a WooCommerce product, variation, or an array of them")
    first = text[pos]
    if first == "{":
        value, end = _decode_at(text, pos, "$")
        _expect_end(text, end, "$")
        yield "$", value
        return
    if first != "[":
        raise invalid_input("expected a WooCommerce product or variation object, or an array of them")
    pos = _WS.match(text, pos + 1).end()
    if text.startswith("]", pos):
        _expect_end(text, pos + 1, "$")
        return
    index = 0
    while True:
        path = f"$[{index}]"
        value, pos = _decode_at(text, pos, path)
        yield path, value
        pos = _WS.match(text, pos).end()
        if pos >= len(text):
            raise invalid_input("array is not closed: the payload ends early (truncated?)", path)
        if text[pos] == "]":
            _expect_end(text, pos + 1, "$")
            return
        if text[pos] != ",":
            raise invalid_input(f"expected ',' or ']' after element {index}", path)
        pos = _WS.match(text, pos + 1).end()
        index += 1


def _expect_end(text, pos, path):
    if _WS.match(text, pos).end() != len(text):
        raise invalid_input("unexpected data after the JSON value", path)


def parse_whole(data):
    """Decode a whole (small) JSON document, e.g. an API response."""
    text = _text(data)
    _check_depth(text)
    pos = _WS.match(text, 0).end()
    value, end = _decode_at(text, pos, "$")
    _expect_end(text, end, "$")
    return value

"""Exact money: WooCommerce decimal strings to integer minor units.

WooCommerce stores prices as decimal strings ("21.99"). They are read with
`decimal.Decimal` from the string itself, never through binary floating
point, and scaled by the currency's ISO 4217 exponent.
"""

import decimal
import re

# ISO 4217 List One (active codes), by minor-unit exponent. WooCommerce's
# currency list (`get_woocommerce_currencies()`) is a subset of these plus a
# few non-ISO codes (BTC, IRT, PRB, ...) which have no ISO exponent and are
# refused with a clear message.
_EXPONENT_0 = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split()
)
_EXPONENT_3 = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_EXPONENT_4 = frozenset("CLF UYW".split())
_EXPONENT_2 = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN
    BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP
    ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT
    MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP
    PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC
    SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD
    XCG YER ZAR ZMW ZWG
    """.split()
)

_I64_MAX = 2**63 - 1

# A plain decimal as WooCommerce writes it: digits, optional fraction. No
# exponent, no NaN/Infinity, no thousands separators.
_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)\Z")

# Enough digits that no operation below ever rounds: inputs are capped at
# 40 characters by `_DECIMAL` plus the length check in `parse_amount`.
_CONTEXT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_UP, traps=[decimal.InvalidOperation])


class MoneyError(ValueError):
    """An amount that cannot be an exact price; the message says why."""


def exponent(currency):
    """ISO 4217 exponent of `currency`, or None for an unknown code."""
    if currency in _EXPONENT_2:
        return 2
    if currency in _EXPONENT_0:
        return 0
    if currency in _EXPONENT_3:
        return 3
    if currency in _EXPONENT_4:
        return 4
    return None


def parse_amount(text):
    """A decimal string (or a Decimal from the JSON reader) as a Decimal."""
    if isinstance(text, decimal.Decimal):
        text = str(text)
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise MoneyError("expected a decimal string such as \"21.99\"")
    raw = str(text).strip()
    if len(raw) > 40 or not _DECIMAL.match(raw):
        raise MoneyError(f"{raw[:40]!r} is not a decimal amount such as \"21.99\"")
    return decimal.Decimal(raw)


def to_minor(amount, currency):
    """Exact minor units of `amount` (a Decimal) in `currency`.

    More decimals than the currency has is an error, never a silent rounding.
    """
    exp = exponent(currency)
    if exp is None:
        raise MoneyError(f"unknown currency {currency!r}: expected an ISO 4217 code such as \"NGN\"")
    scaled = _CONTEXT.multiply(amount, decimal.Decimal(10) ** exp)
    integral = scaled.to_integral_value(rounding=decimal.ROUND_DOWN)
    if scaled != integral:
        raise MoneyError(f"{amount} has more than {exp} decimal places, the minor unit of {currency}")
    minor = int(integral)
    if abs(minor) > _I64_MAX:
        raise MoneyError(f"{amount} is too large an amount")
    return minor


def add_tax(net_minor, rate_percent):
    """`net_minor` plus `rate_percent` tax, rounded half away from zero to the
    minor unit: WooCommerce's default rounding (PHP `round`)."""
    gross = _CONTEXT.divide(_CONTEXT.multiply(decimal.Decimal(net_minor), 100 + rate_percent), decimal.Decimal(100))
    rounded = int(gross.to_integral_value(rounding=decimal.ROUND_HALF_UP))
    if abs(rounded) > _I64_MAX:
        raise MoneyError("the price with tax is too large an amount")
    return rounded


def to_decimal(amount_minor, currency):
    """Minor units back to the decimal string WooCommerce expects ("21.99")."""
    exp = exponent(currency)
    if exp is None:
        raise MoneyError(f"unknown currency {currency!r}: expected an ISO 4217 code such as \"NGN\"")
    sign = "-" if amount_minor < 0 else ""
    digits = str(abs(amount_minor))
    if exp == 0:
        return sign + digits
    digits = digits.rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}"

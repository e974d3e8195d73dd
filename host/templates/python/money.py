"""Exact money: decimal strings to integer minor units.

Prices are read from their text, digit by digit, and scaled by the
currency's ISO 4217 exponent: never through binary floating point, where
"0.29" is 0.28999999999999998.
"""

import re

# ISO 4217 active codes (List One), by minor-unit exponent.
_EXPONENT_0 = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split())
_EXPONENT_3 = frozenset("BHD IQD JOD KWD LYD OMR TND".split())
_EXPONENT_4 = frozenset("CLF UYW".split())
_EXPONENT_2 = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
    CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL
    MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR
    PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP
    TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
    """.split()
)

_I64_MAX = 2**63 - 1

# "12.50", "1500", "7.", ".25", with an optional sign. No exponents, no
# thousands separators.
_DECIMAL = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


class MoneyError(ValueError):
    """An amount that cannot be an exact price; the message says why."""


def exponent(currency):
    """The ISO 4217 exponent of `currency`, or None for an unknown code."""
    if currency in _EXPONENT_2:
        return 2
    if currency in _EXPONENT_0:
        return 0
    if currency in _EXPONENT_3:
        return 3
    if currency in _EXPONENT_4:
        return 4
    return None


def to_minor(amount, currency):
    """Exact minor units of the decimal string `amount` in `currency`.

    More decimals than the currency has is an error unless they are zeros:
    a price is never rounded silently.
    """
    exp = exponent(currency)
    if exp is None:
        raise MoneyError(f"unknown currency {currency!r}: expected an ISO 4217 code such as \"NGN\"")
    match = _DECIMAL.fullmatch(amount.strip())
    if match is None or not (match.group(2) or match.group(3)):
        raise MoneyError(f"{amount[:40]!r} is not a decimal amount such as \"12.50\"")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    kept, dropped = fraction[:exp], fraction[exp:]
    if dropped.strip("0"):
        raise MoneyError(f"{amount[:40]!r} has more than {exp} decimal places, the minor unit of {currency}")
    digits = (whole + kept.ljust(exp, "0")).lstrip("0") or "0"
    # Checked before int(): CPython refuses to convert very long digit strings.
    if len(digits) > 19 or int(digits) > _I64_MAX:
        raise MoneyError(f"{amount[:40]!r} is too large an amount")
    minor = int(digits)
    return -minor if sign == "-" else minor

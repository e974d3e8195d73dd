// Exact money: decimal strings to integer minor units (BigInt, the WIT
// `s64`). Prices are read from their text, digit by digit, and scaled by the
// currency's ISO 4217 exponent: never through a JavaScript number, where
// 0.29 * 100 is 28.999999999999996.

const EXPONENT_0 = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF';
const EXPONENT_3 = 'BHD IQD JOD KWD LYD OMR TND';
const EXPONENT_4 = 'CLF UYW';
const EXPONENT_2 = `AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF
  CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD
  GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL
  MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR
  PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP
  TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG`;

const EXPONENTS = new Map();
for (const [codes, exp] of [[EXPONENT_0, 0], [EXPONENT_2, 2], [EXPONENT_3, 3], [EXPONENT_4, 4]]) {
  for (const code of codes.split(/\s+/)) if (code) EXPONENTS.set(code, exp);
}

export const I64_MIN = -(2n ** 63n);
export const I64_MAX = 2n ** 63n - 1n;

// "12.50", "1500", "7.", ".25", with an optional sign. No exponents, no
// thousands separators.
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?$/;

/** An amount that cannot be an exact price; the message says why. */
export class MoneyError extends Error {}

/** The ISO 4217 exponent of `code`, or `undefined` for an unknown code. */
export function exponent(code) {
  return EXPONENTS.get(code);
}

const show = (text) => JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);

/**
 * Exact minor units (BigInt) of the decimal string `amount` in `currency`.
 * More decimals than the currency has is an error unless they are zeros: a
 * price is never rounded silently.
 */
export function toMinor(amount, currency) {
  const exp = exponent(currency);
  if (exp === undefined) {
    throw new MoneyError(`unknown currency ${JSON.stringify(currency)}: expected an ISO 4217 code such as "NGN"`);
  }
  const m = DECIMAL.exec(amount.trim());
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) {
    throw new MoneyError(`${show(amount)} is not a decimal amount such as "12.50"`);
  }
  const fraction = m[3] ?? '';
  const kept = fraction.slice(0, exp);
  if (/[1-9]/.test(fraction.slice(exp))) {
    throw new MoneyError(`${show(amount)} has more than ${exp} decimal places, the minor unit of ${currency}`);
  }
  const digits = (m[2] + kept.padEnd(exp, '0')).replace(/^0+/, '') || '0';
  if (digits.length > 19 || BigInt(digits) > I64_MAX) {
    throw new MoneyError(`${show(amount)} is too large an amount`);
  }
  const minor = BigInt(digits);
  return m[1] === '-' ? -minor : minor;
}

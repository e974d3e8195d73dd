// The shop's settings, read once per call through the `settings` import.

import { notConfigured } from './errors.js';
import { isCurrency } from './money.js';

const WHOLE = /^\s*-?[0-9]+\s*$/;

/**
 * Settings as the mapping needs them. `currency` is read lazily: a payload
 * without prices (stock, deletions) maps without it.
 */
export function readSettings(getSetting) {
  const raw = (k) => {
    const v = getSetting(k);
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  const threshold = raw('low_stock_threshold');
  if (threshold !== undefined && (!WHOLE.test(threshold) || !Number.isSafeInteger(Number(threshold)))) {
    throw notConfigured(`setting \`low_stock_threshold\` must be a whole number, got ${JSON.stringify(threshold)}`);
  }
  const currencyRaw = raw('currency');
  let currency;
  return {
    lowStockThreshold: threshold === undefined ? null : Number(threshold),
    locationUuid: raw('location_uuid') ?? null,
    soldLocationUuid: raw('sold_location_uuid') ?? null,
    currency() {
      if (currency !== undefined) return currency;
      if (currencyRaw === undefined) {
        throw notConfigured(
          'setting `currency` is required to map Zettle prices: add it (for example "GBP") to the shop\'s `settings` in snapact.toml',
        );
      }
      const code = currencyRaw.toUpperCase();
      if (!isCurrency(code)) {
        throw notConfigured(`setting \`currency\` is ${JSON.stringify(currencyRaw)}, not an ISO 4217 code such as "GBP"`);
      }
      currency = code;
      return code;
    },
  };
}

/** `null` quantity (untracked) is in stock; zero or less is out of stock; at or below the threshold is low stock. */
export function availabilityFor(quantity, lowStockThreshold) {
  if (quantity === null) return 'in-stock';
  if (quantity <= 0) return 'out-of-stock';
  if (lowStockThreshold !== null && quantity <= lowStockThreshold) return 'low-stock';
  return 'in-stock';
}

import { parsePhoneNumberWithError, type CountryCode } from 'libphonenumber-js/max';
import { ValidationError } from './errors';

/** Normalises any way a caller's number is written to E.164, or says clearly why it cannot. */
export function normalizePhone(input: string, defaultCountry: CountryCode = 'US'): string {
  const trimmed = input.trim();
  if (trimmed.length === 0 || trimmed.length > 32) {
    throw new ValidationError('INVALID_PHONE', 'Phone number is empty or too long');
  }
  let parsed;
  try {
    parsed = parsePhoneNumberWithError(trimmed, defaultCountry);
  } catch {
    throw new ValidationError('INVALID_PHONE', 'Phone number could not be parsed');
  }
  if (!parsed.isValid()) throw new ValidationError('INVALID_PHONE', 'Phone number is not a valid number');
  return parsed.number;
}

/** `+13125550142` → `+1 ***-***-0142`: enough for staff to recognise a caller, not to dial them. */
export function maskPhone(e164: string): string {
  const last4 = e164.slice(-4);
  const cc = e164.startsWith('+1') ? '+1' : e164.slice(0, 3);
  return `${cc} ***-***-${last4}`;
}

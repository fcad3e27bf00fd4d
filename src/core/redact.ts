/** Keys whose values are secrets wherever they appear: never logged, stored with a run, or returned. */
export const SECRET_KEYS = [
  'password',
  'secret',
  'secret_access_key',
  'token',
  'salt',
  'private_key',
  'api_key',
  'authorization',
  'connection_string',
  'account_key',
  'sas_token',
  'session_token',
  'passphrase',
];

/** A deep copy of `value` with every secret key's value replaced by "***". */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [
        key,
        SECRET_KEYS.includes(key.toLowerCase()) ? '***' : redactSecrets(inner),
      ]),
    );
  }
  return value;
}

/**
 * The config as an operator may show it (`check-config`, logs, a status page): every value under
 * a key that names a secret becomes "(set)", and the password of every URL becomes "***". With
 * `${NAME}` references (env-interpolation.ts) the printed config holds the values, so without this
 * `check-config` would print the secrets the environment kept out of the file.
 */
const SECRET_KEY = /token|secret|password|passwd|api_?key/i;
/** Keys that name a secret but hold where it is kept (a file path), which an operator needs to see. */
const SECRET_LOCATIONS = new Set(['user_key_secret']);

export function maskSecrets(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key) && !SECRET_LOCATIONS.has(key) && value !== '') return '(set)';
    return maskUrlPassword(value);
  }
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, k);
    return out;
  }
  return value;
}

function maskUrlPassword(value: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) return value;
  try {
    const u = new URL(value);
    if (u.password === '') return value;
    u.password = '***';
    return u.toString();
  } catch {
    return value.replace(/(:\/\/[^/:@\s]*:)[^/@\s]*@/, '$1***@');
  }
}

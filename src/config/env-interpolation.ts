/**
 * `${NAME}` in config values: secrets (database URLs, API keys) stay in the environment, as
 * systemd's EnvironmentFile or a container's env provide them, and out of the YAML file.
 *
 * Applied to the parsed YAML tree, string values only (never keys): a variable's value is text,
 * so it cannot add keys or change the document's structure, whatever characters it holds.
 * `${NAME:-fallback}` takes the fallback when NAME is unset or empty; `$${` is a literal `${`.
 * An unset variable without a fallback is a config error naming the key and the variable.
 */
import { ConfigError } from './errors.js';

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

export type Environment = Readonly<Record<string, string | undefined>>;

export function interpolateEnv(raw: unknown, env: Environment, path: readonly (string | number)[] = []): unknown {
  if (typeof raw === 'string') return interpolateString(raw, env, path);
  if (Array.isArray(raw)) return raw.map((v, i) => interpolateEnv(v, env, [...path, i]));
  if (raw !== null && typeof raw === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = interpolateEnv(v, env, [...path, k]);
    return out;
  }
  return raw;
}

function interpolateString(value: string, env: Environment, path: readonly (string | number)[]): string {
  if (!value.includes('${')) return value;
  const key = path.join('.') || '(root)';
  return value.replace(REFERENCE, (whole: string, inner: string | undefined) => {
    if (whole === '$${') return '${';
    const m = NAME.exec(inner ?? '');
    if (m === null) throw new ConfigError(key, `"\${${inner}}" is not an environment reference (\${NAME} or \${NAME:-fallback}; $\${ for a literal \${)`);
    const name = m[1]!;
    const set = env[name];
    if (set !== undefined && (m[2] === undefined || set !== '')) return set;
    if (m[2] !== undefined) return m[2];
    throw new ConfigError(key, `environment variable ${name} is not set`);
  });
}

/** Reading and validating the YAML config. Every error names the key and says why. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ZodError } from 'zod';
import { configSchema, type Config } from './schema.js';
import { ConfigError } from './errors.js';
import { interpolateEnv, type Environment } from './env-interpolation.js';
import { applySiteDefaults } from '../sites/config.js';

export function validateConfig(raw: unknown): Config {
  try {
    return configSchema.parse(applySiteDefaults(raw ?? {}));
  } catch (err) {
    if (err instanceof ZodError) {
      const issue = err.issues[0]!;
      let key = issue.path.join('.') || '(root)';
      let message = issue.message;
      if (issue.code === 'unrecognized_keys') {
        const bad = issue.keys[0]!;
        key = issue.path.length ? `${issue.path.join('.')}.${bad}` : bad;
        message = 'unknown key';
      }
      throw new ConfigError(key, message);
    }
    throw err;
  }
}

/** Reads, interpolates `${NAME}` from `env` (env-interpolation.ts) and validates a YAML config file. */
export function loadConfigFile(path: string, env: Environment = process.env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('(file)', `cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigError('(file)', `${path} is not valid YAML: ${(err as Error).message}`);
  }
  return validateConfig(interpolateEnv(raw, env));
}

/** The embedded defaults: what `npm start` runs. */
export function defaultConfig(): Config {
  return validateConfig({});
}

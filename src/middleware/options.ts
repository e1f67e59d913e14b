/** Validates a hook's `options:` block with its schema; errors name the full key path. */
import { ZodError, type ZodTypeAny, type z } from 'zod';
import { ConfigError } from '../config/errors.js';

export function parseHookOptions<S extends ZodTypeAny>(schema: S, options: Record<string, unknown>, path: string): z.output<S> {
  try {
    return schema.parse(options);
  } catch (err) {
    if (err instanceof ZodError) {
      const issue = err.issues[0]!;
      const extra = issue.code === 'unrecognized_keys' ? [issue.keys[0]!] : [];
      const key = [path, 'options', ...issue.path, ...extra].join('.');
      throw new ConfigError(key, issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message);
    }
    throw err;
  }
}

/**
 * `varinterval`: adds a random extra to the announce interval for a share of announces
 * (chihaya's varinterval), so clients that started together do not announce together forever.
 * Options: `modify_response_probability` (0..1, default 0.2), `max_increase_delta` (seconds,
 * default 60), `modify_min_interval` (default true).
 */
import { z } from 'zod';
import type { Hook } from '../hook.js';
import { parseHookOptions } from '../options.js';

const optionsSchema = z.object({
  modify_response_probability: z.number().min(0).max(1).default(0.2),
  max_increase_delta: z.number().int().min(1).max(86400).default(60),
  modify_min_interval: z.boolean().default(true),
}).strict();

export function createVarIntervalHook(options: Record<string, unknown>, _deps: unknown, path: string, random: () => number = Math.random): Hook {
  const opts = parseHookOptions(optionsSchema, options, path);
  return {
    name: 'varinterval',
    handleAnnounce(_ctx, _req, resp) {
      if (random() >= opts.modify_response_probability) return;
      const add = 1 + Math.floor(random() * opts.max_increase_delta);
      resp.interval += add;
      if (opts.modify_min_interval) resp.minInterval += add;
    },
    handleScrape() {},
  };
}

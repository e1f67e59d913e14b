/** A zod type for durations written like "30s", "15m", "1h30m" (a bare number is seconds); parses to milliseconds. */
import { z } from 'zod';
import { parseDuration } from './duration.js';

export const durationSchema = (def: string) =>
  z.union([z.string(), z.number()]).default(def).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `"${v}" is not a duration (e.g. 30s, 15m, 1h30m)` });
      return z.NEVER;
    }
    return ms;
  });

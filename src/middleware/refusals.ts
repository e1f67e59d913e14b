/**
 * `privtrak_access_refused_total{hook,reason}`: announces the access hooks refused, by reason.
 * The hooks share one counter per metrics registry; each binds its label children once, so a
 * refusal costs an increment, not a label lookup.
 */
import { Counter, type Registry } from 'prom-client';

const NAME = 'privtrak_access_refused_total';

export type RefusalCounters<R extends string> = Record<R, { inc(): void }>;

export function refusalCounters<R extends string>(registry: Registry, hook: string, reasons: readonly R[]): RefusalCounters<R> {
  const counter = (registry.getSingleMetric(NAME) as Counter<'hook' | 'reason'> | undefined)
    ?? new Counter({ name: NAME, help: 'Requests refused by the access hooks, by hook and reason.', labelNames: ['hook', 'reason'], registers: [registry] });
  const out = {} as RefusalCounters<R>;
  for (const r of reasons) out[r] = counter.labels(hook, r);
  return out;
}

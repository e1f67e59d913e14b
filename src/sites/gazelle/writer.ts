/** The Gazelle writer: the privtrak hook's sink for site: gazelle (to be built). */
import type { DeltaBatch } from '../../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import type { GazelleSiteConfig } from '../config.js';
import type { SiteDeps } from '../site.js';
import type { GazelleFacts } from './facts.js';

export class GazelleWriter implements DeltaSink {
  readonly name = 'gazelle';
  constructor(readonly config: GazelleSiteConfig, readonly facts: GazelleFacts, readonly deps: SiteDeps) {}
  async open(): Promise<void> { throw new Error('the gazelle writer is not built yet'); }
  async migrate(): Promise<void> {}
  async load(_instance: string): Promise<SinkState> { return { appliedThrough: 0 }; }
  async apply(_batch: DeltaBatch): Promise<void> { throw new Error('the gazelle writer is not built yet'); }
  async totals(_query: TotalsQuery): Promise<TotalsRow[]> { return []; }
  async close(): Promise<void> {}
}

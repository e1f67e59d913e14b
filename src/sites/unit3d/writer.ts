/** The UNIT3D writer: the privtrak hook's sink for site: unit3d (to be built). */
import type { DeltaBatch } from '../../accounting/delta.js';
import type { DeltaSink, SinkState, TotalsQuery, TotalsRow } from '../../sinks/sink.js';
import type { Unit3dSiteConfig } from '../config.js';
import type { SiteDeps } from '../site.js';
import type { Unit3dFacts } from './facts.js';

export class Unit3dWriter implements DeltaSink {
  readonly name = 'unit3d';
  constructor(readonly config: Unit3dSiteConfig, readonly facts: Unit3dFacts, readonly deps: SiteDeps) {}
  /** An announce by a known user for an info_hash the site does not have (unregistered_info_hashes). */
  noteUnregistered(_userId: number, _infoHash: Buffer, _nowMs: number): void {}
  async open(): Promise<void> { throw new Error('the unit3d writer is not built yet'); }
  async migrate(): Promise<void> {}
  async load(_instance: string): Promise<SinkState> { return { appliedThrough: 0 }; }
  async apply(_batch: DeltaBatch): Promise<void> { throw new Error('the unit3d writer is not built yet'); }
  async totals(_query: TotalsQuery): Promise<TotalsRow[]> { return []; }
  async close(): Promise<void> {}
}

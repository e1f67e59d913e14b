/**
 * `privtrak_build_info{version,node,transport,journal_io}` = 1: what this process runs and how,
 * so a dashboard shows at a glance a tracker that fell back to a slower path. The parts that are
 * chosen at run time (the HTTP transport, the journal's I/O) are set by whoever chose them, with
 * the reason for a fallback, which is also logged.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';

export type RuntimeChoice = 'transport' | 'journal_io';

/** The package version (package.json two folders above dist/src/metrics). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export class BuildInfo {
  private readonly gauge: Gauge<'version' | 'node' | 'transport' | 'journal_io'>;
  private readonly labels = { version: packageVersion(), node: process.versions.node, transport: 'none', journal_io: 'none' };

  constructor(registry: Registry, private readonly logger: Logger) {
    this.gauge = new Gauge({
      name: 'privtrak_build_info', help: 'Always 1: version, Node version, HTTP transport (raw|net|none) and journal I/O (mmap|write|none) in use.',
      labelNames: ['version', 'node', 'transport', 'journal_io'], registers: [registry],
    });
    this.gauge.set(this.labels, 1);
  }

  /**
   * Records a run-time choice and logs it with its `reason` if there is one: as a warning when it
   * is a `fallback` from the fast path the config asked for (auto), else as information.
   */
  note(choice: RuntimeChoice, value: string, reason = '', fallback = false): void {
    const fields = reason === '' ? { [choice]: value } : { [choice]: value, reason };
    if (fallback) this.logger.warn(fields, `${choice}: ${value} (fallback)`);
    else this.logger.info(fields, `${choice}: ${value}`);
    if (this.labels[choice] === value) return;
    this.gauge.reset();
    this.labels[choice] = value;
    this.gauge.set(this.labels, 1);
  }

  get current(): Readonly<Record<'version' | 'node' | RuntimeChoice, string>> {
    return this.labels;
  }
}

/**
 * Ocelot's control channel on the HTTP listener (frontend/control.ts), where Gazelle's
 * TRACKER_HOST:TRACKER_PORT points:
 *
 *   GET /{secret}/update?action=…            update-actions.ts; answers `success` (text/plain)
 *   GET /{report_password}/report?get=…      report.ts (only when report_password is set)
 *
 * Every `/<segment>/update` is claimed, not only the right one, so that a wrong secret is
 * answered as Ocelot answers it (a bencoded `failure reason`: "Authentication failure") and
 * counted (ocelot_error{kind="secret"}) instead of falling through to a 404. The secret is
 * compared in constant time and never logged, nor is the path that carries it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControlHandler, ControlReply, ControlRequest } from '../../frontend/control.js';
import { decodeQuery, percentDecode } from '../../bittorrent/query.js';
import { encode } from '../../bittorrent/bencode.js';
import type { GazelleState } from './state.js';
import type { GazelleStats } from './stats.js';
import type { GazelleReport } from './report.js';
import { ActionError, applyUpdate, type Params } from './update-actions.js';

const PATH = /^\/([^/]+)\/(update|report)$/;

export interface GazelleControlOptions {
  readonly secret: string;
  /** '' = no report endpoint. */
  readonly reportPassword: string;
  /** The tracker's configured announce interval, shown by the report until the site sets its own. */
  readonly announceIntervalS: number;
}

function text(status: number, body: string): ControlReply {
  return { status, contentType: 'text/plain', body };
}

/** Ocelot's error(): a bencoded failure reason, status 200, as to a BitTorrent client. */
function failure(reason: string): ControlReply {
  return { status: 200, contentType: 'text/plain', body: encode({ 'failure reason': reason }) };
}

function sameSecret(given: string, expected: Buffer): boolean {
  const g = Buffer.from(given, 'latin1');
  // Lengths may differ (the length of the secret is no secret); contents are compared in constant time.
  return g.length === expected.length && timingSafeEqual(g, expected);
}

export class GazelleControl implements ControlHandler {
  private readonly secret: Buffer;
  private readonly reportPassword: Buffer | undefined;

  constructor(
    private readonly state: GazelleState,
    private readonly stats: GazelleStats,
    private readonly report: GazelleReport,
    private readonly logger: Logger,
    private readonly options: GazelleControlOptions,
  ) {
    this.secret = Buffer.from(options.secret, 'utf8');
    this.reportPassword = options.reportPassword === '' ? undefined : Buffer.from(options.reportPassword, 'utf8');
  }

  matches(path: string): boolean {
    const m = PATH.exec(path);
    if (m === null) return false;
    return m[2] === 'update' || this.reportPassword !== undefined;
  }

  async handle(req: ControlRequest): Promise<ControlReply> {
    const m = PATH.exec(req.path);
    if (m === null) return text(404, 'not found');
    let key: string;
    const params: Params = Object.create(null) as Params;
    try {
      key = percentDecode(m[1]!);
      decodeQuery(req.query, (k, v) => { params[k] = v; });
    } catch {
      return failure('Malformed request');
    }
    if (m[2] === 'update') {
      if (!sameSecret(key, this.secret)) {
        this.stats.secretErrors++;
        return failure('Authentication failure');
      }
      if (req.method !== 'GET') return text(405, 'method not allowed');
      try {
        const reply = applyUpdate(this.state, params, this.logger, Date.now());
        this.stats.updates++;
        return reply === undefined ? text(200, 'success') : { status: 200, ...reply };
      } catch (err) {
        if (err instanceof ActionError) return failure(err.message);
        throw err;
      }
    }
    if (this.reportPassword === undefined || !sameSecret(key, this.reportPassword)) {
      this.stats.reportErrors++;
      return failure('Authentication failure');
    }
    if (req.method !== 'GET') return text(405, 'method not allowed');
    switch (params['get']) {
      case 'prom_stats':
        return { status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: await this.report.promStats(this.options.announceIntervalS) };
      case 'stats':
        return text(200, await this.report.plainStats(this.options.announceIntervalS));
      default:
        return failure('unrecognized report query');
    }
  }
}

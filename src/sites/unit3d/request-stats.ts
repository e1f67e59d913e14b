/**
 * The counts behind UNIT3D's `GET /stats` (shown on the staff dashboard): announces received and
 * answered over the last 1, 10, 60, 900 and 7200 seconds. One counter per second in a ring of
 * 7200 slots per kind: counting is an increment (plus clearing the slots of seconds that passed
 * without traffic); only a stats call sums a window.
 */

export const WINDOWS_S = [1, 10, 60, 900, 7200] as const;
const SLOTS = 7200;

class SecondRing {
  private readonly counts = new Uint32Array(SLOTS);
  /** The second (epoch) the slot `second % SLOTS` currently counts. */
  private second = 0;

  add(nowMs: number): void {
    this.advance(Math.floor(nowMs / 1000));
    this.counts[this.second % SLOTS]!++;
  }

  /** Events per second over the last `windowS` seconds, the current (partial) second included. */
  rate(nowMs: number, windowS: number): number {
    this.advance(Math.floor(nowMs / 1000));
    let sum = 0;
    for (let i = 0; i < windowS; i++) sum += this.counts[(this.second - i + SLOTS * 2) % SLOTS]!;
    return sum / windowS;
  }

  private advance(sec: number): void {
    if (sec <= this.second) return;
    const gap = Math.min(sec - this.second, SLOTS);
    for (let i = 1; i <= gap; i++) this.counts[(this.second + i) % SLOTS] = 0;
    this.second = sec;
  }
}

export class RequestStats {
  readonly createdMs: number;
  lastRequestMs: number | undefined;
  lastResponseMs: number | undefined;
  private readonly requests = new SecondRing();
  private readonly responses = new SecondRing();

  constructor(nowMs = Date.now()) {
    this.createdMs = nowMs;
  }

  request(nowMs: number): void {
    this.lastRequestMs = nowMs;
    this.requests.add(nowMs);
  }

  response(nowMs: number): void {
    this.lastResponseMs = nowMs;
    this.responses.add(nowMs);
  }

  /** The JSON of `GET /stats`: timestamps (RFC 3339, null before the first), rates in announces per second. */
  toJSON(nowMs = Date.now()): Record<string, string | number | null> {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const out: Record<string, string | number | null> = {
      created_at: iso(this.createdMs),
      last_request_at: iso(this.lastRequestMs),
      last_announce_response_at: iso(this.lastResponseMs),
    };
    for (const w of WINDOWS_S) out[`requests_per_${w}s`] = this.requests.rate(nowMs, w);
    for (const w of WINDOWS_S) out[`announce_responses_per_${w}s`] = this.responses.rate(nowMs, w);
    return out;
  }
}

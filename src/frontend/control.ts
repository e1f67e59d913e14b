/**
 * The control channel seam of the HTTP frontend: a site's admin calls (UNIT3D's push API,
 * Gazelle's `/update`) arrive on the same listener as announces, because the sites are
 * configured with one tracker host and port. A ControlHandler claims paths by `matches`; for
 * those, the frontend accepts any method and a body (Content-Length, up to MAX_CONTROL_BODY),
 * and writes the handler's reply. Everything else stays the announce/scrape path.
 */
export interface ControlRequest {
  readonly method: string;
  /** The path without the query, as sent (percent-escapes not decoded). */
  readonly path: string;
  /** The raw query string (after `?`), '' if none. */
  readonly query: string;
  readonly body: Buffer;
  /** The client's address. */
  readonly ip: string;
}

export interface ControlReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string | Buffer;
}

export interface ControlHandler {
  /** Whether `path` belongs to the control channel (checked before the announce routes). */
  matches(path: string): boolean;
  handle(req: ControlRequest): Promise<ControlReply>;
}

/** Largest control request body accepted: the sites send one record per call. */
export const MAX_CONTROL_BODY = 1 << 20;

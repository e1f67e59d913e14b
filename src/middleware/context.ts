/**
 * The per-request context. Frontends fill in what they know about the request (route
 * parameters or BEP 41 URL data, the client's address, the user agent); hooks can add
 * values for later hooks (e.g. the privtrak hook sets `userId`).
 */
export interface RequestContext {
  /** Named route parameters (HTTP `/:passkey/announce`) or parsed BEP 41 URL data (UDP): same keys either way. */
  readonly params: Record<string, string>;
  /** Raw query parameters not consumed by the protocol parser (HTTP only; UDP: from BEP 41 query). */
  readonly query: Record<string, string>;
  /** The HTTP User-Agent, when there is one. */
  readonly userAgent: string | undefined;
  /** 16-byte user ID, set by an identifying hook. */
  userId?: Buffer;
  /** Free-form values hooks share, keyed by hook-owned symbols or names. */
  readonly values: Map<string | symbol, unknown>;
}

export function createContext(params: Record<string, string>, query: Record<string, string>, userAgent?: string): RequestContext {
  return { params, query, userAgent, values: new Map() };
}

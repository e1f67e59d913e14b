/**
 * Typed errors. A `ClientError` is the client's fault and its message is sent to the
 * client (HTTP `failure reason`, UDP error packet). Anything else is an internal error:
 * it is logged and the client sees only "internal server error". Codes are stable and
 * listed in docs/errors.md.
 */

export type ClientErrorCode =
  | 'BAD_REQUEST'
  | 'MISSING_PARAM'
  | 'INVALID_INFO_HASH'
  | 'INVALID_PEER_ID'
  | 'INVALID_PORT'
  | 'INVALID_EVENT'
  | 'INVALID_NUMBER'
  | 'INVALID_IP'
  | 'TOO_MANY_INFO_HASHES'
  | 'REQUEST_TOO_LARGE'
  | 'NOT_FOUND'
  | 'BAD_CONNECTION_ID'
  | 'UNKNOWN_ACTION'
  | 'MALFORMED_PACKET'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'USER_DISABLED'
  | 'LEECHING_FORBIDDEN'
  | 'TORRENT_NOT_REGISTERED'
  | 'TORRENT_BANNED'
  | 'TORRENT_NOT_APPROVED'
  | 'PORT_BLOCKED'
  | 'CLIENT_NOT_ALLOWED'
  | 'CLIENT_BANNED'
  | 'TOO_MANY_PEERS'
  | 'RATE_LIMITED'
  | 'TRACKER_BUSY'
  | 'CLOSING';

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  constructor(code: ClientErrorCode, message: string) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
  }
}

export function isClientError(err: unknown): err is ClientError {
  return err instanceof ClientError;
}

/** The text a client may see for an error: its own message if it is a client error. */
export function publicReason(err: unknown): string {
  return isClientError(err) ? err.message : 'internal server error';
}

/**
 * The one place where error codes become HTTP (API.md §2). Every error body has the shape
 * {"error":{"code","message"}}.
 */
import type { ServerResponse } from 'node:http';
import type { CacheError, ErrorCode } from '../../core/errors.ts';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_key: 400,
  invalid_ttl: 400,
  invalid_json: 400,
  invalid_config: 400,
  invalid_content_type: 400,
  bad_request: 400,
  not_found: 404,
  unsupported_method: 405,
  value_too_large: 413,
  key_too_long: 414,
  unsupported_encoding: 415,
  expectation_failed: 417,
  // A cluster node that does not own the key under its map, and will not forward it again.
  stale_map: 421,
  map_conflict: 409,
  // Level 6: a membership change the Raft group cannot make (already a voter, the last one).
  membership_refused: 409,
  forward_loop: 508,
  headers_too_large: 431,
  out_of_memory: 507,
  unavailable: 503,
  internal_error: 500,
};

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

export function errorBody(error: CacheError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}

/** Writes `error` as a complete response. Returns the HTTP status sent. */
export function sendError(
  res: ServerResponse,
  error: CacheError,
  headers: Record<string, string> = {},
): number {
  const status = HTTP_STATUS[error.code];
  const body = errorBody(error);
  const all: Record<string, string | number> = {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    ...headers,
  };
  if (error.code === 'unavailable') all['Retry-After'] = RETRY_AFTER_SECONDS;
  res.writeHead(status, all);
  res.end(body);
  return status;
}

/**
 * A complete raw HTTP/1.1 error response for the socket-level `clientError` path, where there
 * is no ServerResponse (the request could not be parsed). The connection closes after it.
 */
export function rawErrorResponse(error: CacheError): string {
  const status = HTTP_STATUS[error.code];
  const body = errorBody(error);
  const reason = status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

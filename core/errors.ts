/**
 * Errors are values with a code (API.md §2). They are created here and mapped to HTTP in one
 * place (server/node/http-errors.ts), so the engine, the node and later the cluster speak
 * the same language.
 */
export type ErrorCode =
  | 'invalid_key'
  | 'key_too_long'
  | 'value_too_large'
  | 'invalid_ttl'
  | 'invalid_json'
  | 'invalid_config'
  | 'invalid_content_type'
  | 'unsupported_encoding'
  | 'unsupported_method'
  | 'not_found'
  | 'out_of_memory'
  | 'unavailable'
  | 'bad_request'
  | 'headers_too_large'
  | 'expectation_failed'
  | 'stale_map'
  | 'map_conflict'
  | 'forward_loop'
  | 'membership_refused'
  | 'internal_error';

export interface CacheError {
  readonly code: ErrorCode;
  /** One sentence a person can act on. */
  readonly message: string;
}

export function cacheError(code: ErrorCode, message: string): CacheError {
  return { code, message };
}

/** The result of an operation that can be refused: a refused operation changes nothing. */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: CacheError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ErrorCode, message: string): Result<T> {
  return { ok: false, error: cacheError(code, message) };
}

/**
 * The errors services throw. Each carries a stable machine-readable code; the global exception filter maps the
 * kind to an HTTP status, so services never deal in HTTP.
 */
export abstract class DomainError extends Error {
  abstract readonly kind:
    'not_found' | 'conflict' | 'invalid' | 'unavailable' | 'unauthenticated' | 'forbidden' | 'rate_limited';

  constructor(
    readonly code: string,
    message: string,
    /** When known, seconds until a new attempt may succeed (sent as Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
}

export class ConflictError extends DomainError {
  readonly kind = 'conflict';
}

export class InvalidInputError extends DomainError {
  readonly kind = 'invalid';
}

/**
 * The service cannot do it right now (a tenant still provisioning, a failed provisioning step, a tenant whose
 * database failed to open: that one with `retryAfterSeconds`).
 */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
}

/** No credentials, or credentials that prove nothing (bad signature, expired, revoked, wrong password). */
export class UnauthenticatedError extends DomainError {
  readonly kind = 'unauthenticated';
}

/** Authenticated, but not allowed to do this (another tenant, a role too weak). */
export class ForbiddenError extends DomainError {
  readonly kind = 'forbidden';
}

/** Too many attempts; the client may retry after `retryAfterSeconds` (sent as Retry-After). */
export class RateLimitedError extends DomainError {
  readonly kind = 'rate_limited';

  constructor(
    code: string,
    message: string,
    override readonly retryAfterSeconds: number,
  ) {
    super(code, message, retryAfterSeconds);
  }
}

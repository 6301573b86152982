/**
 * The errors services throw. Each carries a stable machine-readable code; the global exception filter maps the
 * kind to an HTTP status, so services never deal in HTTP.
 */
export abstract class DomainError extends Error {
  abstract readonly kind: 'not_found' | 'conflict' | 'invalid' | 'unavailable';

  constructor(
    readonly code: string,
    message: string,
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

/** The service cannot do it right now (a tenant still provisioning, a failed provisioning step). */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
}

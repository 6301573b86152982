import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
  Optional,
} from '@nestjs/common';
import {
  DriverException,
  ForeignKeyConstraintViolationException,
  UniqueConstraintViolationException,
} from '@mikro-orm/core';
import type { Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DomainError } from './domain-errors';
import { describeError, isServerUnavailable } from './error-text';
import { ErrorResponseDto } from './error-response.dto';
import { TenantConnectionRegistry } from '../tenancy/tenant-connection-registry';
import type { TenantRequest } from '../tenancy/tenant-request';

const DOMAIN_STATUS: Record<DomainError['kind'], number> = {
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  invalid: HttpStatus.BAD_REQUEST,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
};

/**
 * The one funnel from exceptions to `{ statusCode, error, message, code }`. Internals (SQL, stack traces) never
 * reach the client; unexpected errors are logged with the request and tenant and answered with a bare 500.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');

  /** The tenants' ORMs: absent from an app without tenants (the bench's baseline). */
  constructor(@Optional() private readonly connections?: TenantConnectionRegistry) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const body = this.toBody(exception, request);
    if (response.headersSent) return;
    if (body.statusCode === (HttpStatus.UNAUTHORIZED as number)) {
      response.setHeader('WWW-Authenticate', 'Bearer');
    }
    if (exception instanceof DomainError && exception.retryAfterSeconds !== undefined) {
      response.setHeader('Retry-After', String(exception.retryAfterSeconds));
    }
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown, request: Request): ErrorResponseDto {
    if (exception instanceof DomainError) {
      return errorBody(DOMAIN_STATUS[exception.kind], exception.message, exception.code);
    }
    if (exception instanceof HttpException) {
      return fromHttpException(exception);
    }
    if (exception instanceof UniqueConstraintViolationException) {
      return errorBody(
        HttpStatus.CONFLICT,
        'A record with the same unique value already exists',
        'UNIQUE_VIOLATION',
      );
    }
    if (exception instanceof ForeignKeyConstraintViolationException) {
      return errorBody(
        HttpStatus.CONFLICT,
        'The record is referenced by or refers to another record',
        'FOREIGN_KEY_VIOLATION',
      );
    }
    if (isMissingDatabase(exception)) {
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        "The organization's database is not available",
        'TENANT_UNAVAILABLE',
      );
    }
    const lease = (request as TenantRequest).tenant?.lease;
    if (lease && this.connections && isSchemaBehind(exception) && this.connections.schemaBehind(lease)) {
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        "The organization's database is behind its migrations and is being brought up to date; retry shortly",
        'TENANT_UNAVAILABLE',
      );
    }
    if (isQueryCanceled(exception)) {
      this.logger.warn(`${describeRequest(request)}: statement canceled (${describeError(exception)})`);
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        "The database canceled the request's statement (it ran too long, or an operator stopped it); retry shortly",
        'QUERY_TIMEOUT',
      );
    }
    if (isTransactionConflict(exception)) {
      this.logger.warn(`${describeRequest(request)}: transaction rolled back (${describeError(exception)})`);
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        "The request's transaction was rolled back in a conflict with a concurrent one; retry it",
        'TRANSACTION_CONFLICT',
      );
    }
    if (isDatabaseUnavailable(exception)) {
      this.logger.warn(`${describeRequest(request)}: database unavailable (${describeError(exception)})`);
      return errorBody(
        HttpStatus.SERVICE_UNAVAILABLE,
        'The database is temporarily unavailable; retry shortly',
        'DATABASE_UNAVAILABLE',
      );
    }
    this.logger.error(
      `${describeRequest(request)} failed`,
      // A database error's message and stack carry the statement with its values; describeError keeps neither.
      exception instanceof DriverException || !(exception instanceof Error)
        ? describeError(exception)
        : exception.stack,
    );
    return errorBody(HttpStatus.INTERNAL_SERVER_ERROR, 'Internal server error', 'INTERNAL_ERROR');
  }
}

/** The request's method and URL, its tenant (when it names one) and its id, for the log. */
function describeRequest(request: Request): string {
  const tenant = request.headers['x-tenant-id'];
  return (
    `${request.method} ${request.originalUrl}${tenant ? ` (tenant ${JSON.stringify(tenant)})` : ''}` +
    ` (request ${String(request.headers['x-request-id'])})`
  );
}

export function errorBody(statusCode: number, message: string, code: string): ErrorResponseDto {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code };
}

/**
 * The code of an HttpException thrown without one (Nest's 404 for a path no route serves, its 400 for a path that
 * cannot be percent-decoded): the status's name, `NOT_FOUND`, `BAD_REQUEST`.
 */
function statusCodeName(status: number): string {
  return (STATUS_CODES[status] ?? 'Error').toUpperCase().replace(/[^A-Z]+/g, '_');
}

function fromHttpException(exception: HttpException): ErrorResponseDto {
  const statusCode = exception.getStatus();
  const response = exception.getResponse();
  if (typeof response === 'string') return errorBody(statusCode, response, statusCodeName(statusCode));
  const { message, code } = response as { message?: unknown; code?: unknown };
  const text = Array.isArray(message)
    ? message.join('; ')
    : typeof message === 'string'
      ? message
      : exception.message;
  return errorBody(statusCode, text, typeof code === 'string' ? code : statusCodeName(statusCode));
}

/**
 * Failures of the database server rather than of the request: one that cannot be reached or takes no more sessions
 * (isServerUnavailable), and, at a request, any of its resources running short (53xxx) or a shutdown (57P0x).
 */
function isDatabaseUnavailable(exception: unknown): boolean {
  const code = sqlState(exception);
  return isServerUnavailable(exception) || (typeof code === 'string' && /^(53|57P0)/.test(code));
}

/**
 * PostgreSQL's query_canceled: a statement that ran past the session's statement_timeout (DB_STATEMENT_TIMEOUT_MS),
 * or one an operator canceled.
 */
function isQueryCanceled(exception: unknown): boolean {
  return sqlState(exception) === '57014';
}

/**
 * PostgreSQL rolled the request's transaction back to let a concurrent one go on: deadlock_detected (its lock waits
 * formed a cycle with another session's, e.g. an operator's transaction or a migration) or serialization_failure.
 * Nothing of that transaction was kept, and the same request may well succeed at once.
 */
function isTransactionConflict(exception: unknown): boolean {
  const code = sqlState(exception);
  return code === '40P01' || code === '40001';
}

/** PostgreSQL's invalid_catalog_name: a tenant's database was dropped behind the registry's back. */
function isMissingDatabase(exception: unknown): boolean {
  return sqlState(exception) === '3D000';
}

/** PostgreSQL's undefined_table and undefined_column: a table or column the database does not have. */
function isSchemaBehind(exception: unknown): boolean {
  const code = sqlState(exception);
  return code === '42P01' || code === '42703';
}

/** The error's `code`: PostgreSQL's SQLSTATE on a driver error (MikroORM keeps it), or Node's on a socket error. */
function sqlState(exception: unknown): unknown {
  return (exception as { code?: unknown } | null)?.code;
}

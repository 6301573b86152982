import { Injectable, OnModuleInit, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Request } from 'express';
import parseurl from 'parseurl';
import { ForbiddenError } from '../common/domain-errors';
import { AccessClaims, AccessTokens } from './access-tokens';
import { PUBLIC_TENANT_ROUTE } from './auth.decorators';
import { authRequired, bearerToken } from './principal';
import { PlatformToken } from './platform-token';

/** What a tenant request's Authorization header proved: a user's access token for the tenant, or the platform token. */
export type Credentials = { kind: 'user'; claims: AccessClaims } | { kind: 'platform' };

/**
 * Checks a tenant request's credentials without the tenant's database: the tenant middleware runs it before it
 * leases the tenant's ORM, so a request that cannot be admitted (no token, a forged, expired or other tenant's one)
 * costs neither a slot, nor another tenant's eviction, nor a PostgreSQL backend's start. The tenant auth guard then
 * loads the user and checks the role. Public tenant routes (login) are known by method and path, read at start from
 * the controllers marked with PublicTenantRoute, as the middleware runs before Nest has chosen a route; the path is
 * the controllers' own (the app sets no global prefix, no versioning), and the request's is the one Express routes by.
 */
@Injectable()
export class TenantCredentials implements OnModuleInit {
  private readonly publicRoutes = new Set<string>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly tokens: AccessTokens,
    private readonly platformToken: PlatformToken,
  ) {}

  onModuleInit(): void {
    for (const { metatype } of this.discovery.getControllers()) {
      if (typeof metatype !== 'function') continue;
      const prototype = metatype.prototype as Record<string, object>;
      const publicClass = Reflect.getMetadata(PUBLIC_TENANT_ROUTE, metatype) === true;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        if (!publicClass && Reflect.getMetadata(PUBLIC_TENANT_ROUTE, handler) !== true) continue;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        const path = fixedPath(
          Reflect.getMetadata(PATH_METADATA, metatype),
          Reflect.getMetadata(PATH_METADATA, handler),
        );
        if (path === undefined || method === RequestMethod.ALL) {
          throw new Error(
            `Public tenant route ${metatype.name}.${name} must have one method and a fixed path`,
          );
        }
        const methods = method === RequestMethod.GET ? ['GET', 'HEAD'] : [RequestMethod[method]];
        for (const each of methods) this.publicRoutes.add(`${each} ${path}`);
      }
    }
  }

  /**
   * The request's credentials for the tenant, undefined on a public route; 401 without a token or with one that is
   * neither a valid access token nor the platform token, 403 for another tenant's access token.
   */
  check(req: Request, tenantId: string): Credentials | undefined {
    if (this.publicRoutes.has(`${req.method} ${requestPath(req)}`)) return undefined;
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) throw authRequired();
    let claims: AccessClaims;
    try {
      claims = this.tokens.verify(token);
    } catch (error) {
      // The platform token is no access token of ours, so it is compared (a SHA-256 of the candidate) only once the
      // token has failed as one: users' requests, nearly all of them, skip that hash.
      if (!this.platformToken.matches(token)) throw error;
      return { kind: 'platform' };
    }
    if (claims.tid !== tenantId) {
      throw new ForbiddenError('TENANT_MISMATCH', 'The access token was issued for another organization');
    }
    return { kind: 'user', claims };
  }
}

/**
 * A route's path as Express matches it (one leading slash, none trailing, lower case: routes ignore case), from its
 * controller's and its handler's; undefined when either is a list or has parameters, wildcards, optional parts or
 * characters path-to-regexp reserves or escapes.
 */
function fixedPath(...parts: unknown[]): string | undefined {
  const isFixed = (part: unknown) =>
    part === undefined || (typeof part === 'string' && !/[:*{}()[\]+?!\\]/.test(part));
  if (!parts.every(isFixed)) return undefined;
  const segments = (parts as (string | undefined)[])
    .map((part) => (part ?? '').replace(/^\/+|\/+$/g, ''))
    .filter((part) => part !== '');
  return `/${segments.join('/')}`.toLowerCase();
}

/**
 * The path Express routes the request by, in fixedPath's form (Express's routes also match it with one trailing
 * slash): parsed by Express's own parser, so an absolute URL in the request line (`POST http://host/api/auth/login`)
 * has the path Express gives it.
 */
function requestPath(req: Request): string {
  const path = parseurl.original(req)?.pathname ?? '';
  return (path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path).toLowerCase();
}

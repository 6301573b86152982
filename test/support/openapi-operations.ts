import type { OpenAPIObject } from '@nestjs/swagger';
import { DocumentedOperation, listOperations } from '../../src/openapi';

/** True for operations under the tenant prefix: they need an X-Tenant-ID of a signed-up organization. */
export function isTenantOperation({ operation }: DocumentedOperation): boolean {
  return (operation.parameters ?? []).some(
    (parameter) => 'in' in parameter && parameter.in === 'header' && parameter.name === 'X-Tenant-ID',
  );
}

/**
 * Finds the operation serving a concrete request path: literal segments must match, `{param}` segments take any
 * one segment, and the template with the fewest parameters wins (`/crops/summary` before `/crops/{id}`). Like
 * Express's routes, it ignores case and one trailing slash.
 */
export function operationMatcher(
  document: OpenAPIObject,
): (method: string, path: string) => DocumentedOperation | undefined {
  const candidates = listOperations(document)
    .map((op) => ({
      op,
      params: (op.path.match(/\{[^}]+\}/g) ?? []).length,
      pattern: new RegExp(
        `^${op.path
          .split(/\{[^}]+\}/)
          .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
          .join('[^/]+')}$`,
        'i',
      ),
    }))
    .sort((a, b) => a.params - b.params);
  return (method, path) => {
    const normalized = path.length > 1 ? path.replace(/\/+$/, '') : path;
    return candidates.find(
      ({ op, pattern }) => op.method === method.toLowerCase() && pattern.test(normalized),
    )?.op;
  };
}

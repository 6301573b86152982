export const TENANT_HEADER = 'x-tenant-id';

/**
 * Where a request names its tenant: the `X-Tenant-ID` header, else the first label of a host that ends with the
 * base domain (`green-valley.farms.example.com`). Returns the raw, unvalidated value, or undefined for none.
 */
export function resolveTenantId(
  headers: Record<string, string | string[] | undefined>,
  baseDomain: string | undefined,
): string | undefined {
  const header = headers[TENANT_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value !== '') return value;
  if (!baseDomain) return undefined;
  const host = (headers.host ?? '').toString().toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  const suffix = `.${baseDomain}`;
  if (!host.endsWith(suffix)) return undefined;
  const sub = host.slice(0, -suffix.length);
  return sub === '' || sub.includes('.') ? undefined : sub;
}

export const TENANT_HEADER = 'x-tenant-id';

/**
 * Where a request names its tenant: the `X-Tenant-ID` header, else the first label of a host that ends with the
 * base domain (`green-valley.farms.example.com`). The host is the request line's when it holds an absolute URL
 * (`targetHost`; RFC 9112 has the server ignore the Host header then, as a proxy routing by the URL does), else the
 * Host header's. Returns the raw, unvalidated value, or undefined for none.
 */
export function resolveTenantId(
  headers: Record<string, string | string[] | undefined>,
  baseDomain: string | undefined,
  targetHost?: string | null,
): string | undefined {
  const header = headers[TENANT_HEADER];
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && value !== '') return value;
  if (!baseDomain) return undefined;
  const host = (targetHost ?? headers.host ?? '')
    .toString()
    .toLowerCase()
    .replace(/:\d+$/, '')
    .replace(/\.$/, '');
  const suffix = `.${baseDomain}`;
  if (!host.endsWith(suffix)) return undefined;
  const sub = host.slice(0, -suffix.length);
  return sub === '' || sub.includes('.') ? undefined : sub;
}

import { resolveTenantId } from './tenant-resolver';

describe('resolveTenantId', () => {
  const base = 'farms.example.com';

  it('prefers the X-Tenant-ID header', () => {
    expect(resolveTenantId({ 'x-tenant-id': 'acme', host: 'other.farms.example.com' }, base)).toBe('acme');
  });

  it('takes the subdomain of the base domain, ignoring the port and case', () => {
    expect(resolveTenantId({ host: 'Green-Valley.farms.example.com:3000' }, base)).toBe('green-valley');
  });

  it('finds no tenant on a bare localhost or the base domain itself', () => {
    expect(resolveTenantId({ host: 'localhost:3000' }, base)).toBeUndefined();
    expect(resolveTenantId({ host: 'farms.example.com' }, base)).toBeUndefined();
    expect(resolveTenantId({ host: 'localhost' }, undefined)).toBeUndefined();
  });

  it('ignores nested subdomains and look-alike hosts', () => {
    expect(resolveTenantId({ host: 'a.b.farms.example.com' }, base)).toBeUndefined();
    expect(resolveTenantId({ host: 'evilfarms.example.com' }, base)).toBeUndefined();
  });

  it("takes an absolute URL's host from the request line over the Host header", () => {
    const host = 'other.farms.example.com';
    expect(resolveTenantId({ host }, base, 'green-valley.farms.example.com:8080')).toBe('green-valley');
    expect(resolveTenantId({ host }, base, 'localhost')).toBeUndefined();
    expect(resolveTenantId({ host }, base, null)).toBe('other');
    expect(resolveTenantId({ 'x-tenant-id': 'acme', host }, base, 'green-valley.farms.example.com')).toBe(
      'acme',
    );
  });

  it('returns the header value unvalidated, for the caller to validate', () => {
    expect(resolveTenantId({ 'x-tenant-id': "x'; DROP" }, base)).toBe("x'; DROP");
  });
});

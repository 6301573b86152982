import createClient, { type Client } from 'openapi-fetch';
import type { operations, paths } from '../../.data/openapi-client/schema';

/**
 * The seed flow a frontend runs, written only against the types `npm run openapi:client` generates from
 * openapi.json: if an operation, a request body or a response changes shape, this stops compiling in CI.
 * test/generated-client.e2e-spec.ts drives it against the running app. Each step is one function taking the
 * client (and the tenant where the route needs one); a new resource adds its step and its field in SeedResult.
 */
export type ApiClient = Client<paths>;

/** The JSON body an operation answers with `status`, by operationId. */
type JsonBody<
  Id extends keyof operations,
  Status extends keyof operations[Id]['responses'],
> = operations[Id]['responses'][Status] extends { content: { 'application/json': infer Body } }
  ? Body
  : never;

export type Organization = JsonBody<'createOrganization', 201>;
export type Crop = JsonBody<'createCrop', 201>;

/** Header parameters of every tenant route. */
export interface Tenant {
  header: { 'X-Tenant-ID': string };
}

export interface SeedResult {
  organization: Organization;
  crop: Crop;
  crops: JsonBody<'listCrops', 200>;
}

export function createApiClient(baseUrl: string): ApiClient {
  return createClient<paths>({ baseUrl });
}

/** The data of a successful call, or an error naming the request and what the API answered. */
function dataOf<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    const { status, url } = result.response;
    throw new Error(`${url} answered ${status}: ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

export async function signUp(api: ApiClient, name: string): Promise<Organization> {
  return dataOf(await api.POST('/organizations', { body: { name, farmType: 'vegetable' } }));
}

export async function addCrop(api: ApiClient, tenant: Tenant): Promise<Crop> {
  return dataOf(
    await api.POST('/api/crops', {
      params: tenant,
      body: { name: 'Heirloom Tomatoes', plantingDate: '2025-04-15' },
    }),
  );
}

export async function listCrops(api: ApiClient, tenant: Tenant): Promise<SeedResult['crops']> {
  return dataOf(await api.GET('/api/crops', { params: { ...tenant, query: { limit: 50 } } }));
}

/** Signs up an organization and seeds its farm through the public API only. */
export async function runSeedFlow(api: ApiClient, organizationName: string): Promise<SeedResult> {
  const organization = await signUp(api, organizationName);
  const tenant: Tenant = { header: { 'X-Tenant-ID': organization.tenantId } };
  const crop = await addCrop(api, tenant);
  const crops = await listCrops(api, tenant);
  return { organization, crop, crops };
}

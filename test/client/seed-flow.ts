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
export type AccessToken = JsonBody<'login', 200>;
export type User = JsonBody<'createUser', 201>;
export type Crop = JsonBody<'createCrop', 201>;
export type Harvest = JsonBody<'createHarvest', 201>;

/** Header parameters of every tenant route. */
export interface Tenant {
  header: { 'X-Tenant-ID': string };
}

export interface SeedResult {
  organization: Organization;
  login: AccessToken;
  me: JsonBody<'getCurrentUser', 200>;
  user: User;
  crop: Crop;
  crops: JsonBody<'listCrops', 200>;
  harvests: Harvest[];
  summary: JsonBody<'getHarvestSummary', 200>;
}

/** A client sending `token` (the platform token, or a user's access token) as its bearer credential, if given. */
export function createApiClient(baseUrl: string, token?: string): ApiClient {
  return createClient<paths>({ baseUrl, headers: token ? { Authorization: `Bearer ${token}` } : {} });
}

export const OWNER = {
  firstName: 'Grace',
  lastName: 'Hopper',
  email: 'grace@greenvalley.example',
  password: 'a long owner passphrase',
};

/** The data of a successful call, or an error naming the request and what the API answered. */
function dataOf<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined) {
    const { status, url } = result.response;
    throw new Error(`${url} answered ${status}: ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

export async function signUp(operator: ApiClient, name: string): Promise<Organization> {
  return dataOf(
    await operator.POST('/organizations', { body: { name, farmType: 'vegetable', owner: OWNER } }),
  );
}

export async function logIn(anonymous: ApiClient, tenant: Tenant): Promise<AccessToken> {
  return dataOf(
    await anonymous.POST('/api/auth/login', {
      params: tenant,
      body: { email: OWNER.email, password: OWNER.password },
    }),
  );
}

export async function addUser(api: ApiClient, tenant: Tenant): Promise<User> {
  return dataOf(
    await api.POST('/api/users', {
      params: tenant,
      body: {
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@greenvalley.example',
        password: 'ada password 123',
        role: 'member',
      },
    }),
  );
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

export async function addHarvest(
  api: ApiClient,
  tenant: Tenant,
  body: { cropId: string; quantity: number; unit: Harvest['unit']; harvestedAt: string },
): Promise<Harvest> {
  return dataOf(await api.POST('/api/harvests', { params: tenant, body }));
}

export async function harvestSummary(api: ApiClient, tenant: Tenant): Promise<SeedResult['summary']> {
  return dataOf(
    await api.GET('/api/reports/harvest-summary', { params: { ...tenant, query: { from: '2025-07-01' } } }),
  );
}

/**
 * Signs up an organization with the platform token, logs its owner in, and seeds its farm with the owner's token,
 * through the public API only.
 */
export async function runSeedFlow(
  baseUrl: string,
  platformToken: string,
  organizationName: string,
): Promise<SeedResult> {
  const organization = await signUp(createApiClient(baseUrl, platformToken), organizationName);
  const tenant: Tenant = { header: { 'X-Tenant-ID': organization.tenantId } };
  const login = await logIn(createApiClient(baseUrl), tenant);
  const api = createApiClient(baseUrl, login.accessToken);
  const me = dataOf(await api.GET('/api/auth/me', { params: tenant }));
  const user = await addUser(api, tenant);
  const crop = await addCrop(api, tenant);
  const crops = await listCrops(api, tenant);
  const harvests = [
    await addHarvest(api, tenant, { cropId: crop.id, quantity: 12.5, unit: 'kg', harvestedAt: '2025-07-20' }),
    await addHarvest(api, tenant, { cropId: crop.id, quantity: 7.25, unit: 'kg', harvestedAt: '2025-08-02' }),
  ];
  const summary = await harvestSummary(api, tenant);
  return { organization, login, me, user, crop, crops, harvests, summary };
}

import { ConflictException, Controller, Get, Param } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiProperty } from '@nestjs/swagger';
import { ApiErrors } from '../src/common/api-errors.decorator';
import { CropDto } from '../src/crops/dto/crop.dto';
import { TenantRoute } from '../src/tenancy/api-tenant.decorator';
import { assertNoContractViolations } from './support/openapi-contract';
import { asTenant, startTestApp, stopTestApp, TestApp } from './support/test-app';

class NullableDto {
  @ApiProperty({ type: String, nullable: true })
  note!: string | null;
}

/** Routes that keep or break their own documentation, to show what the contract check catches. */
@Controller('contract-probe')
class ContractProbeController {
  @Get('nullable')
  @ApiOkResponse({ type: NullableDto, description: 'A nullable property holding null' })
  nullable(): NullableDto {
    return { note: null };
  }

  @Get('echo/:word')
  @ApiOkResponse({ type: NullableDto, description: 'The path segment, as received' })
  echo(@Param('word') word: string): NullableDto {
    return { note: word };
  }

  @Get('wrong-shape')
  @ApiOkResponse({ type: CropDto, description: 'Documented as a crop' })
  wrongShape(): unknown {
    return { id: 'not-a-uuid', name: 5 };
  }

  @Get('unlisted-code')
  @ApiOkResponse({ type: NullableDto, description: 'Documented with one conflict code' })
  @ApiErrors({ 409: ['PROBE_LISTED'] })
  unlistedCode(): never {
    throw new ConflictException({ message: 'a code the document does not list', code: 'PROBE_UNLISTED' });
  }

  @Get('undeclared-status')
  @ApiOkResponse({ type: NullableDto, description: 'Documented with 200 only' })
  undeclaredStatus(): never {
    throw new ConflictException('not in the document');
  }
}

/** A tenant route left out of the document, refusing in its handler. */
@TenantRoute()
@Controller('api/contract-probe')
class TenantContractProbeController {
  @Get('undocumented')
  @ApiExcludeEndpoint()
  undocumented(): never {
    throw new ConflictException({ message: 'refused by the handler', code: 'PROBE_REFUSED' });
  }
}

describe('the OpenAPI contract check of every e2e response', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ controllers: [ContractProbeController, TenantContractProbeController] });
  });

  afterAll(() => stopTestApp(t));

  afterEach(() => t.contract.violations.splice(0));

  it('accepts documented answers, including errors from middleware, guards and the body parser', async () => {
    await t.http.get('/contract-probe/nullable').expect(200);
    await t.http.get('/contract-probe/echo/..?x=1').expect(200, { note: '..' });
    await t.http.get('/api/crops').set('X-Tenant-ID', 'nobody-here').expect(404);
    await t.http.get('/api/crops').expect(400);
    await t.http.post('/organizations').set('Content-Type', 'application/json').send('{"name":').expect(400);
    await t.http.post('/organizations').send({ name: 'x', farmType: 'spaceship' }).expect(400);
    expect((await t.http.get('/no/such/route').expect(404)).body.code).toBe('NOT_FOUND');
    expect(t.contract.violations).toEqual([]);
  });

  it('takes the refusals given before routing on an unserved tenant path, and no other answer there', async () => {
    const { tenantId } = await t.signUp('Contract Probe Farm');
    await t.anon.get('/api/no-such-route').set('X-Tenant-ID', tenantId).expect(401);
    const undecodable = await asTenant(t, tenantId).get('/api/crops/%E0%A4%A');
    expect([undecodable.status, undecodable.body.code]).toEqual([400, 'BAD_REQUEST']);
    expect(t.contract.violations).toEqual([]);
    await t.http.get('/api/contract-probe/undocumented').set('X-Tenant-ID', tenantId).expect(409);
    expect(t.contract.violations).toEqual([
      'GET /api/contract-probe/undocumented -> 409: no operation in the document serves it',
    ]);
  });

  it('records a body that does not match the schema, naming the fields', async () => {
    await t.http.get('/contract-probe/wrong-shape').expect(200);
    expect(t.contract.violations).toEqual([
      expect.stringMatching(
        /^GET \/contract-probe\/wrong-shape -> 200 \(wrongShape\): the body does not match the schema: .*must have required property 'plantingDate'.*\/id must match format "uuid".*\/name must be string/,
      ),
    ]);
  });

  it('records a status the operation does not declare', async () => {
    await t.http.get('/contract-probe/undeclared-status').expect(409);
    expect(t.contract.violations).toEqual([
      'GET /contract-probe/undeclared-status -> 409 (undeclaredStatus): status 409 is not declared (declared: 200, 500)',
    ]);
  });

  it('records an error code the operation does not list for its status', async () => {
    await t.http.get('/contract-probe/unlisted-code').expect(409);
    expect(t.contract.violations).toEqual([
      expect.stringMatching(
        /^GET \/contract-probe\/unlisted-code -> 409 \(unlistedCode\): the body does not match the schema: \/code must be equal to one of the allowed values/,
      ),
    ]);
  });

  it('fails with a readable list of the violations', async () => {
    await t.http.get('/contract-probe/undeclared-status').expect(409);
    await t.http.get('/contract-probe/undeclared-status').expect(409);
    expect(() => assertNoContractViolations(t.contract)).toThrow(
      /^2 response\(s\) broke the OpenAPI document:\n {2}- GET \/contract-probe\/undeclared-status -> 409 .*not declared[^\n]*$/,
    );
  });
});

import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { AppConfig } from '../config/app-config';
import { describeError } from '../common/error-text';
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError } from '../common/domain-errors';
import { PasswordHasher } from '../auth/password-hasher';
import { TenantConnectionRegistry } from '../tenancy/tenant-connection-registry';
import { TenantDatabaseNames } from '../tenancy/tenant-database-names';
import { TenantProvisioner } from '../tenancy/tenant-provisioner';
import { TenantTemplate } from '../tenancy/tenant-template';
import { TenantRegistry, tenantRecordOf } from '../tenancy/tenant-registry';
import { isValidTenantSlug, slugifyOrganizationName } from '../tenancy/tenant-slug';
import { saveOrganizationOwner } from '../users/organization-owner';
import { CreateOrganizationDto, OwnerDto } from './dto/create-organization.dto';
import { Organization, OrganizationStatus, PendingOwner } from './organization.entity';

/**
 * Sign-up and the registry of organizations. Sign-up is a small state machine in the control plane:
 * `provisioning -> active`, or `failed` with `lastError`; a repeated POST for a failed organization finishes the
 * job, and so does a restart or the periodic sweep for rows left in `provisioning` by a process that died. The
 * unique name and tenantId columns make concurrent sign-ups for one name end in one 201 and one 409.
 */
@Injectable()
export class OrganizationsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OrganizationsService.name);
  private readonly resumed = new Set<Promise<void>>();
  private readonly startedAt = new Date();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly config: AppConfig,
    private readonly em: EntityManager,
    private readonly names: TenantDatabaseNames,
    private readonly provisioner: TenantProvisioner,
    private readonly template: TenantTemplate,
    private readonly registry: TenantRegistry,
    private readonly connections: TenantConnectionRegistry,
    private readonly hasher: PasswordHasher,
  ) {}

  /** `byOperator`: the caller holds the platform token; anyone else must name an owner. */
  async create(dto: CreateOrganizationDto, { byOperator }: { byOperator: boolean }): Promise<Organization> {
    if (!byOperator && !dto.owner) {
      throw new InvalidInputError(
        'OWNER_REQUIRED',
        'owner is required when signing up without the platform token',
      );
    }
    const tenantId = slugifyOrganizationName(dto.name);
    if (!tenantId) {
      throw new InvalidInputError(
        'ORGANIZATION_NAME_INVALID',
        'name must give a tenant id of 1-48 letters and digits (other characters become dashes)',
      );
    }
    const pendingOwner = dto.owner ? await this.hashOwner(dto.owner) : null;
    const org =
      (await this.insert(dto, tenantId, pendingOwner)) ??
      (await this.claimFailed(dto, tenantId, pendingOwner, byOperator));
    await this.provision(org);
    return org;
  }

  async list(limit: number, offset: number): Promise<[Organization[], number]> {
    return this.em
      .fork()
      .findAndCount(Organization, {}, { orderBy: { createdAt: 'desc', id: 'asc' }, limit, offset });
  }

  async get(idOrTenantId: string): Promise<Organization> {
    const where = isUUID(idOrTenantId, 'all')
      ? { id: idOrTenantId.toLowerCase() }
      : isValidTenantSlug(idOrTenantId)
        ? { tenantId: idOrTenantId }
        : undefined;
    const org = where && (await this.em.fork().findOne(Organization, where));
    if (!org) throw new NotFoundError('ORGANIZATION_NOT_FOUND', `Organization ${idOrTenantId} not found`);
    return org;
  }

  /**
   * In the background: brings the template database to the latest tenant migration (so sign-ups clone a current
   * one) and finishes sign-ups a previous run of the process left in `provisioning`; from then on, every quarter
   * of SIGNUP_RESUME_AFTER_MS (at most every minute), finishes those untouched for SIGNUP_RESUME_AFTER_MS, which
   * another process left when it died.
   */
  onApplicationBootstrap(): void {
    // Rows touched since this process started belong to sign-ups still running (here or in another process).
    this.track(this.template.ensure().then(() => this.resumeUnfinished(this.startedAt)));
    const every = Math.min(this.config.SIGNUP_RESUME_AFTER_MS / 4, 60_000);
    this.sweeper = setInterval(() => {
      if (this.resumed.size > 0) return;
      this.track(this.resumeUnfinished(new Date(Date.now() - this.config.SIGNUP_RESUME_AFTER_MS)));
    }, every);
    this.sweeper.unref();
  }

  /** Stops the sweep and lets a resumed sign-up finish while the database connections are still open. */
  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.sweeper);
    await this.resumedProvisioning();
  }

  /** Resolves when the start-up work (template, resumed provisioning) and any sweep running have finished. */
  async resumedProvisioning(): Promise<void> {
    await Promise.all([...this.resumed]);
  }

  private track(work: Promise<void>): void {
    const resume = work.catch((error: unknown) =>
      this.logger.error(`Preparing the template or resuming provisioning failed: ${String(error)}`),
    );
    this.resumed.add(resume);
    void resume.finally(() => this.resumed.delete(resume));
  }

  /**
   * Finishes the sign-ups in `provisioning` untouched since `before`. Each is claimed first by moving its
   * updatedAt past `before` (compare-and-set), so of several processes sweeping at once one finishes it.
   */
  private async resumeUnfinished(before: Date): Promise<void> {
    const em = this.em.fork();
    const unfinished = await em.find(Organization, { status: 'provisioning', updatedAt: { $lt: before } });
    for (const org of unfinished) {
      const updatedAt = new Date();
      const claimed = await em.nativeUpdate(
        Organization,
        { id: org.id, status: 'provisioning', updatedAt: { $lt: before } },
        { updatedAt },
      );
      if (claimed !== 1) continue;
      org.updatedAt = updatedAt;
      this.logger.log(`Resuming provisioning of ${org.tenantId}`);
      await this.provision(org).catch(() => undefined);
    }
  }

  /** Inserts the row in `provisioning`; undefined when the name or tenant id is already taken. */
  private async insert(
    dto: CreateOrganizationDto,
    tenantId: string,
    pendingOwner: PendingOwner | null,
  ): Promise<Organization | undefined> {
    const em = this.em.fork();
    const org = em.create(Organization, {
      name: dto.name,
      tenantId,
      farmType: dto.farmType,
      logoUrl: dto.logoUrl ?? null,
      databaseName: this.names.forTenant(tenantId),
      pendingOwner,
    });
    try {
      await em.flush();
      return org;
    } catch (error) {
      if (error instanceof UniqueConstraintViolationException) return undefined;
      throw error;
    }
  }

  /**
   * The name or tenant id exists. A failed sign-up of the same name is taken over (atomically: only one retry
   * wins), keeping its owner unless the retry names one; without the platform token, only by a retry naming the
   * same owner, email and password (so an anonymous caller cannot become the admin of someone else's sign-up).
   * Anything else is a conflict.
   */
  private async claimFailed(
    dto: CreateOrganizationDto,
    tenantId: string,
    pendingOwner: PendingOwner | null,
    byOperator: boolean,
  ): Promise<Organization> {
    const em = this.em.fork();
    const existing = await em.findOne(Organization, { $or: [{ name: dto.name }, { tenantId }] });
    if (
      existing &&
      existing.status === 'failed' &&
      existing.name === dto.name &&
      (byOperator || (await this.isSameOwner(existing.pendingOwner, dto.owner)))
    ) {
      const claimed = await em.nativeUpdate(
        Organization,
        { id: existing.id, status: 'failed' },
        {
          status: 'provisioning',
          farmType: dto.farmType,
          logoUrl: dto.logoUrl ?? null,
          lastError: null,
          pendingOwner: pendingOwner ?? existing.pendingOwner,
          // nativeUpdate skips onUpdate; the start-up resume tells running sign-ups by this.
          updatedAt: new Date(),
        },
      );
      if (claimed === 1) {
        await em.refresh(existing);
        return existing;
      }
    }
    if (existing?.name === dto.name) {
      throw new ConflictError(
        'ORGANIZATION_NAME_TAKEN',
        `An organization named ${JSON.stringify(dto.name)} exists`,
      );
    }
    throw new ConflictError(
      'TENANT_ID_TAKEN',
      `The tenant id ${tenantId} derived from the name is already taken`,
    );
  }

  private async provision(org: Organization): Promise<void> {
    try {
      await this.provisioner.provision(org.tenantId);
      if (org.pendingOwner) await this.saveOwner(org, org.pendingOwner);
    } catch (error) {
      const lastError = describeError(error);
      this.logger.error(`Provisioning ${org.tenantId} failed: ${lastError}`);
      await this.setStatus(org, 'failed', lastError.slice(0, 2000));
      throw new UnavailableError(
        'PROVISIONING_FAILED',
        "Creating the organization's database failed; repeat the request to retry",
      );
    }
    await this.setStatus(org, 'active', null);
  }

  /** Emails are ASCII (EmailField), so lowering them here agrees with PostgreSQL. */
  private async isSameOwner(pending: PendingOwner | null, owner: OwnerDto | undefined): Promise<boolean> {
    if (!pending || !owner || pending.email.toLowerCase() !== owner.email.toLowerCase()) return false;
    return this.hasher.verify(pending.passwordHash, owner.password);
  }

  private async hashOwner({ password, ...owner }: OwnerDto): Promise<PendingOwner> {
    return { ...owner, passwordHash: await this.hasher.hash(password) };
  }

  /** Through the connection registry, so the new tenant's ORM is open for the owner's first login. */
  private async saveOwner(org: Organization, owner: PendingOwner): Promise<void> {
    const lease = await this.connections.acquire(tenantRecordOf(org));
    try {
      await saveOrganizationOwner(lease.orm.em.fork(), owner);
    } finally {
      lease.release();
    }
  }

  private async setStatus(
    org: Organization,
    status: 'active' | 'failed',
    lastError: string | null,
  ): Promise<void> {
    const updatedAt = new Date();
    // The owner's password hash is kept only until the tenant database holds the owner.
    const pendingOwner = status === 'active' ? null : org.pendingOwner;
    // Should two attempts race (a sign-up and another process resuming it), a success wins over a failure.
    const from: OrganizationStatus[] = status === 'active' ? ['provisioning', 'failed'] : ['provisioning'];
    await this.em
      .fork()
      .nativeUpdate(
        Organization,
        { id: org.id, status: { $in: from } },
        { status, lastError, updatedAt, pendingOwner },
      );
    Object.assign(org, { status, lastError, updatedAt, pendingOwner });
    this.registry.invalidate(org.tenantId);
  }
}

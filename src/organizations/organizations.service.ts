import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/postgresql';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { isUUID } from 'class-validator';
import { AppConfig } from '../config/app-config';
import { describeError } from '../common/error-text';
import { ConflictError, InvalidInputError, NotFoundError, UnavailableError } from '../common/domain-errors';
import { findPage } from '../common/find-page';
import { PasswordHasher } from '../auth/password-hasher';
import { TenantConnectionRegistry } from '../tenancy/tenant-connection-registry';
import { TenantDatabaseNames } from '../tenancy/tenant-database-names';
import { NameOwnership, TenantDatabaseTakenError, TenantProvisioner } from '../tenancy/tenant-provisioner';
import { TenantTemplate } from '../tenancy/tenant-template';
import { TenantRegistry, tenantRecordOf } from '../tenancy/tenant-registry';
import { isValidTenantSlug, slugifyOrganizationName } from '../tenancy/tenant-slug';
import { saveOrganizationOwner } from '../users/organization-owner';
import { CreateOrganizationDto, OwnerDto } from './dto/create-organization.dto';
import { Organization, PendingOwner } from './organization.entity';
import { SignUpHold, holdStart, untouchedFor } from './sign-up-hold';

/** What a sign-up's caller can watch while another attempt runs it (GET /organizations needs the platform token). */
const UNTIL_ACTIVE = 'its routes answer 503 TENANT_PROVISIONING until it is active or has failed';

/** A sign-up attempt that lost its hold: another process finishes the sign-up. */
function signUpTakenOver(tenantId: string): UnavailableError {
  return new UnavailableError(
    'SIGNUP_TAKEN_OVER',
    `Another process is finishing the sign-up of ${tenantId}; ${UNTIL_ACTIVE}`,
  );
}

/** A sign-up attempt that failed (its own, or the one that took it over): a repeat tries again. */
function provisioningFailed(): UnavailableError {
  return new UnavailableError(
    'PROVISIONING_FAILED',
    "Creating the organization's database failed; repeat the request to retry",
  );
}

/**
 * Sign-up and the registry of organizations. Sign-up is a small state machine in the control plane:
 * `provisioning -> active`, or `failed` with `lastError`; a repeated POST for a failed organization finishes the
 * job, and so does the sweep of every app process for rows left in `provisioning` by a process that died (see
 * SignUpHold). The unique name and tenantId columns make concurrent sign-ups for one name end in one 201 and one 409.
 */
@Injectable()
export class OrganizationsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OrganizationsService.name);
  private readonly resumed = new Set<Promise<void>>();
  /** How often a sign-up renews its hold, and how often the sweep looks for sign-ups whose hold lapsed. */
  private readonly holdRenewalMs: number;
  private sweeper?: NodeJS.Timeout;
  private stopping = false;

  constructor(
    private readonly config: AppConfig,
    private readonly em: EntityManager,
    private readonly names: TenantDatabaseNames,
    private readonly provisioner: TenantProvisioner,
    private readonly template: TenantTemplate,
    private readonly registry: TenantRegistry,
    private readonly connections: TenantConnectionRegistry,
    private readonly hasher: PasswordHasher,
  ) {
    this.holdRenewalMs = Math.min(config.SIGNUP_RESUME_AFTER_MS / 4, 60_000);
  }

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
        'name must give a tenant id of 1-48 letters and digits (accents are dropped, other characters become dashes)',
      );
    }
    if (dto.owner) {
      // A name that no retry could take over answers before the owner's password is hashed (argon2, ~30 ms of CPU).
      const existing = await findHolder(this.em.fork(), dto.name, tenantId);
      const mayTakeOver =
        existing && isRetryOf(existing, dto) && (byOperator || sameEmail(existing.pendingOwner, dto.owner));
      if (existing && !mayTakeOver) throw conflictWith(existing, dto.name, tenantId);
    }
    const pendingOwner = dto.owner ? await this.hashOwner(dto.owner) : null;
    const org =
      (await this.insert(dto, tenantId, pendingOwner)) ??
      (await this.claimFailed(dto, tenantId, pendingOwner, byOperator));
    await this.provision(org);
    return org;
  }

  async list(limit: number, offset: number): Promise<[Organization[], number]> {
    return findPage(
      this.em.fork(),
      Organization,
      {},
      {
        orderBy: { createdAt: 'desc', id: 'asc' },
        limit,
        offset,
      },
    );
  }

  /** By id, else by tenant id (a tenant id may have a UUID's shape: a name of hex groups). */
  async get(idOrTenantId: string): Promise<Organization> {
    const em = this.em.fork();
    const org =
      (isUUID(idOrTenantId, 'all')
        ? await em.findOne(Organization, { id: idOrTenantId.toLowerCase() })
        : null) ??
      (isValidTenantSlug(idOrTenantId) ? await em.findOne(Organization, { tenantId: idOrTenantId }) : null);
    if (!org) throw new NotFoundError('ORGANIZATION_NOT_FOUND', `Organization ${idOrTenantId} not found`);
    return org;
  }

  /**
   * In the background: brings the template database to the latest tenant migration (so sign-ups clone a current
   * one) and sweeps for sign-ups a dead process left in `provisioning`, at once and then every quarter of
   * SIGNUP_RESUME_AFTER_MS (at least once a minute).
   */
  onApplicationBootstrap(): void {
    this.track(
      'Preparing the template or the first sweep for abandoned sign-ups',
      this.template.ensure().then(() => this.resumeAbandoned()),
    );
    this.sweeper = setInterval(() => {
      if (this.resumed.size === 0) this.track('Sweeping for abandoned sign-ups', this.resumeAbandoned());
    }, this.holdRenewalMs);
    this.sweeper.unref();
  }

  /** Stops the sweep, and lets a sign-up it resumed finish while the database connections are still open. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweeper);
    await this.resumedProvisioning();
  }

  /** Resolves when the start-up work (template, first sweep) and any sweep running have finished. */
  async resumedProvisioning(): Promise<void> {
    await Promise.all([...this.resumed]);
  }

  private track(what: string, work: Promise<void>): void {
    const resume = work.catch((error: unknown) =>
      this.logger.error(`${what} failed: ${describeError(error)}`),
    );
    this.resumed.add(resume);
    void resume.finally(() => this.resumed.delete(resume));
  }

  /**
   * Finishes the sign-ups in `provisioning` whose hold lapsed: untouched for SIGNUP_RESUME_AFTER_MS. Each candidate
   * is taken over by compare-and-set (SignUpHold), so of several processes sweeping at once one finishes it.
   */
  private async resumeAbandoned(): Promise<void> {
    const abandonedMs = this.config.SIGNUP_RESUME_AFTER_MS;
    const em = this.em.fork();
    const candidates = await em.find(Organization, {
      status: 'provisioning',
      updatedAt: { $lt: untouchedFor(abandonedMs) },
    });
    for (const org of candidates) {
      if (this.stopping) return;
      if (!(await SignUpHold.takeOver(em, org.id, abandonedMs))) continue;
      // As it is now, with the updatedAt just written: the owner may have changed since the candidates were read.
      const claimed = await this.em.fork().findOneOrFail(Organization, org.id);
      this.logger.log(`Resuming the abandoned sign-up of ${claimed.tenantId}`);
      await this.provision(claimed).catch((error: unknown) =>
        this.logger.warn(
          `Resuming the sign-up of ${claimed.tenantId} did not finish: ${describeError(error)}`,
        ),
      );
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
    org.updatedAt = holdStart();
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
   * Anything else is a conflict (conflictWith).
   */
  private async claimFailed(
    dto: CreateOrganizationDto,
    tenantId: string,
    pendingOwner: PendingOwner | null,
    byOperator: boolean,
  ): Promise<Organization> {
    const em = this.em.fork();
    const existing = await findHolder(em, dto.name, tenantId);
    if (
      existing &&
      isRetryOf(existing, dto) &&
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
          // Starts this attempt's hold (SignUpHold); the refresh below reads it back.
          updatedAt: holdStart(),
        },
      );
      await em.refresh(existing);
      if (claimed === 1) return existing;
      // Another retry claimed it first: its sign-up runs now, or has already failed again.
      if (existing.status === 'failed') throw provisioningFailed();
    }
    throw conflictWith(existing, dto.name, tenantId);
  }

  /**
   * Runs one attempt at the sign-up of `org`, whose updatedAt this attempt has just written (see SignUpHold). Only
   * while it holds the row does it save the owner (taken over, the row may name another owner by now) and write
   * the outcome; else another process finishes the sign-up, and this attempt answers 503 SIGNUP_TAKEN_OVER. An
   * attempt that finds its database name taken (TenantDatabaseTakenError) withdraws the row and answers 409 while it
   * holds the row (else 503 SIGNUP_TAKEN_OVER, withdrawing nothing).
   */
  private async provision(org: Organization): Promise<void> {
    const hold = new SignUpHold(this.em, org.id, org.updatedAt, this.holdRenewalMs);
    let failure: string | undefined;
    try {
      await this.provisioner.provision(org, this.ownership(org));
      if (org.pendingOwner && (await hold.renew())) await this.saveOwner(org, org.pendingOwner);
    } catch (error) {
      if (error instanceof TenantDatabaseTakenError) {
        const held = await hold.release();
        if (!held) throw signUpTakenOver(org.tenantId);
        await this.withdraw(org, held);
        throw error;
      }
      failure = describeError(error);
      this.logger.error(`Provisioning ${org.tenantId} failed: ${failure}`);
    }
    const heldAt = await hold.release();
    // The owner's password hash is kept only until the tenant database holds the owner.
    const written =
      heldAt &&
      (failure === undefined
        ? await this.writeOutcome(org, heldAt, 'active', null, null)
        : await this.writeOutcome(org, heldAt, 'failed', failure.slice(0, 2000), org.pendingOwner));
    if (!written) throw signUpTakenOver(org.tenantId);
    if (failure !== undefined) {
      throw provisioningFailed();
    }
  }

  /** The row's `databaseOwned` as it is when asked, and setting it (see TenantProvisioner). */
  private ownership(org: Organization): NameOwnership {
    const withdrawn = () => new Error(`The sign-up of ${org.tenantId} was withdrawn meanwhile`);
    return {
      owned: async () => {
        const row = await this.em.fork().findOne(Organization, org.id, { fields: ['databaseOwned'] });
        if (!row) throw withdrawn();
        return row.databaseOwned;
      },
      own: async () => {
        if ((await this.em.fork().nativeUpdate(Organization, org.id, { databaseOwned: true })) !== 1) {
          throw withdrawn();
        }
      },
    };
  }

  /** Deletes the row of a sign-up that could not start, while this attempt holds it (`heldAt`). */
  private async withdraw(org: Organization, heldAt: Date): Promise<void> {
    await this.em
      .fork()
      .nativeDelete(Organization, { id: org.id, status: 'provisioning', updatedAt: heldAt });
    this.registry.invalidate(org.tenantId);
  }

  private async isSameOwner(pending: PendingOwner | null, owner: OwnerDto | undefined): Promise<boolean> {
    if (!pending || !owner || !sameEmail(pending, owner)) return false;
    return this.hasher.verify(pending.passwordHash, owner.password);
  }

  private async hashOwner({ password, ...owner }: OwnerDto): Promise<PendingOwner> {
    return { ...owner, passwordHash: await this.hasher.hash(password) };
  }

  /** Through the connection registry, so the new tenant's ORM is open for the owner's first login. */
  private async saveOwner(org: Organization, owner: PendingOwner): Promise<void> {
    // Provisioning has just checked its database: an earlier failed opening is no reason to refuse this one.
    const lease = await this.connections.acquire(tenantRecordOf(org), { evenAfterFailure: true });
    try {
      await saveOrganizationOwner(lease.orm.em.fork(), owner);
    } finally {
      lease.release();
    }
  }

  /** Writes the attempt's outcome if it still holds the row (`heldAt`: the updatedAt it last wrote); whether it did. */
  private async writeOutcome(
    org: Organization,
    heldAt: Date,
    status: 'active' | 'failed',
    lastError: string | null,
    pendingOwner: PendingOwner | null,
  ): Promise<boolean> {
    const updatedAt = new Date();
    const written = await this.em
      .fork()
      .nativeUpdate(
        Organization,
        { id: org.id, status: 'provisioning', updatedAt: heldAt },
        { status, lastError, updatedAt, pendingOwner },
      );
    // The control plane's notification of this change reaches the registry after the commit, possibly after the
    // response: dropping the answer here lets the caller's next request see the new status at once.
    this.registry.invalidate(org.tenantId);
    if (written !== 1) return false;
    Object.assign(org, { status, lastError, updatedAt, pendingOwner });
    return true;
  }
}

/**
 * The row holding the name or the tenant id: by name first, as a row signed up under an earlier tenant id rule may
 * hold the name under another id.
 */
async function findHolder(em: EntityManager, name: string, tenantId: string): Promise<Organization | null> {
  const holders = await em.find(Organization, { $or: [{ name }, { tenantId }] });
  return holders.find((org) => org.name === name) ?? holders[0] ?? null;
}

/**
 * Whether a sign-up names the owner's email a failed one waits with. Emails are ASCII (EmailField), so lowering them
 * here agrees with PostgreSQL.
 */
function sameEmail(pending: PendingOwner | null, owner: OwnerDto | undefined): boolean {
  return !!pending && !!owner && pending.email.toLowerCase() === owner.email.toLowerCase();
}

/** Whether a sign-up of `dto` may take `existing` over: a failed sign-up of the same name. */
function isRetryOf(existing: Organization, dto: CreateOrganizationDto): boolean {
  return existing.status === 'failed' && existing.name === dto.name;
}

/**
 * The 409 for a name or tenant id held by a row this sign-up does not take over: one still provisioning (a retry
 * that came too early, or another caller's sign-up of the name) is told apart from a taken name.
 */
function conflictWith(existing: Organization | null, name: string, tenantId: string): ConflictError {
  if (existing?.name === name && existing.status === 'provisioning') {
    return new ConflictError(
      'SIGNUP_IN_PROGRESS',
      `The sign-up of ${JSON.stringify(name)} (${existing.tenantId}) is still in progress; ${UNTIL_ACTIVE}`,
    );
  }
  if (existing?.name === name) {
    return new ConflictError(
      'ORGANIZATION_NAME_TAKEN',
      `An organization named ${JSON.stringify(name)} exists`,
    );
  }
  return new ConflictError(
    'TENANT_ID_TAKEN',
    `The tenant id ${tenantId} derived from the name is already taken`,
  );
}

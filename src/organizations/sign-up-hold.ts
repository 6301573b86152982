import { EntityManager, raw } from '@mikro-orm/postgresql';

/** The database server's clock to the millisecond, so the value round-trips through a JS Date. */
const SERVER_NOW = "date_trunc('milliseconds', clock_timestamp())";

/**
 * A sign-up row's first updated_at, the start of its first attempt's hold: the database server's clock, as every
 * later time of the hold. A raw SQL value for the row's property or an update (a new one each time: the ORM keeps
 * the one it is given); the flush reads the time written back into the entity.
 */
export const holdStart = () => raw<object, Date>(SERVER_NOW);

/** `abandonedMs` (the parameter) before now by the database server's clock. */
const MS_AGO = "clock_timestamp() - ? * interval '1 millisecond'";

/** What updated_at must be below for a sign-up to count as abandoned: `abandonedMs` ago by the server's clock. */
export const untouchedFor = (abandonedMs: number) => raw<object, Date>(MS_AGO, [abandonedMs]);

/**
 * Sets a `provisioning` row's updated_at to the server's clock where `condition` holds; the value written, or
 * undefined when the condition did not hold. The row is locked first: a single UPDATE that waited for the row's
 * lock would write, and judge `condition` by, the time it started waiting.
 */
async function touchProvisioning(
  em: EntityManager,
  organizationId: string,
  condition: string,
  param: unknown,
): Promise<Date | undefined> {
  return em.fork().transactional(async (tx) => {
    await tx.execute('SELECT 1 FROM organizations WHERE id = ? FOR UPDATE', [organizationId]);
    const [row] = await tx.execute<{ updatedAt: Date | string }[]>(
      `UPDATE organizations SET updated_at = ${SERVER_NOW}
        WHERE id = ? AND status = 'provisioning' AND ${condition}
        RETURNING updated_at AS "updatedAt"`,
      [organizationId, param],
    );
    return row ? new Date(row.updatedAt) : undefined;
  });
}

/**
 * One attempt's hold on a sign-up row in `provisioning`: the updated_at it last wrote there. Every `renewalMs` (a
 * quarter of SIGNUP_RESUME_AFTER_MS or less) it moves updated_at on by compare-and-set, so a row goes untouched
 * that long only when its process died or lost the control database; a sweep then takes the row over
 * (`takeOver`), and the attempt that had it finds its next compare-and-set missing and writes nothing more. A
 * renewal that fails (the control database unreachable) is tried again at the next tick. Every time of a hold is
 * the database server's (the first one too, `holdStart`), so the app hosts' clocks play no part.
 */
export class SignUpHold {
  private readonly timer: NodeJS.Timeout;
  private heldAt: Date | undefined;
  private renewal: Promise<void> = Promise.resolve();

  constructor(
    private readonly em: EntityManager,
    private readonly organizationId: string,
    writtenAt: Date,
    renewalMs: number,
  ) {
    this.heldAt = writtenAt;
    this.timer = setInterval(() => void this.renew(), renewalMs);
    this.timer.unref();
  }

  /**
   * Claims a row whose hold lapsed (untouched for `abandonedMs`); the updated_at written, to start the new
   * attempt's hold with, or undefined when it was not abandoned (any more). Of several sweeps, one claims it.
   */
  static takeOver(em: EntityManager, organizationId: string, abandonedMs: number): Promise<Date | undefined> {
    return touchProvisioning(em, organizationId, `updated_at < ${MS_AGO}`, abandonedMs);
  }

  /** Renews the hold now; false once another attempt has taken the row over. */
  async renew(): Promise<boolean> {
    this.renewal = this.renewal.then(async () => {
      const heldAt = this.heldAt;
      if (!heldAt) return;
      try {
        this.heldAt = await touchProvisioning(this.em, this.organizationId, 'updated_at = ?', heldAt);
      } catch {
        // Unknown whether it still holds: keep the hold and try again at the next tick.
      }
    });
    await this.renewal;
    return this.heldAt !== undefined;
  }

  /** Stops renewing; the updated_at the attempt last wrote, or undefined when it was taken over. */
  async release(): Promise<Date | undefined> {
    clearInterval(this.timer);
    await this.renewal;
    return this.heldAt;
  }
}

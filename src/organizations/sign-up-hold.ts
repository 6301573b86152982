import { EntityManager } from '@mikro-orm/postgresql';
import { Organization } from './organization.entity';

/**
 * One attempt's hold on a sign-up row in `provisioning`: the updatedAt it last wrote there. Every `renewalMs` it
 * moves updatedAt on by compare-and-set, so a row goes untouched for SIGNUP_RESUME_AFTER_MS (four renewals) only
 * when its process died or lost the control database; the sweep then takes the row over the same way, and the
 * attempt that had it finds its next compare-and-set missing and writes nothing more. A renewal that fails (the
 * control database unreachable) is tried again at the next tick.
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

  /** Renews the hold now; false once another attempt has taken the row over. */
  async renew(): Promise<boolean> {
    this.renewal = this.renewal.then(async () => {
      const heldAt = this.heldAt;
      if (!heldAt) return;
      const next = new Date();
      const renewed = await this.em
        .fork()
        .nativeUpdate(
          Organization,
          { id: this.organizationId, status: 'provisioning', updatedAt: heldAt },
          { updatedAt: next },
        )
        .catch(() => undefined);
      if (renewed === 1) this.heldAt = next;
      else if (renewed === 0) this.heldAt = undefined;
    });
    await this.renewal;
    return this.heldAt !== undefined;
  }

  /** Stops renewing; the updatedAt the attempt last wrote, or undefined when it was taken over. */
  async release(): Promise<Date | undefined> {
    clearInterval(this.timer);
    await this.renewal;
    return this.heldAt;
  }
}

import { Opt, Property } from '@mikro-orm/core';

/** createdAt/updatedAt shared by every entity, control plane and tenant alike. */
export abstract class Timestamped {
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date & Opt = new Date();

  @Property({ type: 'datetime', defaultRaw: 'now()', onUpdate: () => new Date() })
  updatedAt: Date & Opt = new Date();
}

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126043845 } from './Migration20261126043845';
import { Migration20261126045849 } from './Migration20261126045849';
import { Migration20261126070931 } from './Migration20261126070931';
import { Migration20261127170000 } from './Migration20261127170000';
import { Migration20261127234000 } from './Migration20261127234000';
import { Migration20261128043000 } from './Migration20261128043000';
import { Migration20261128161000 } from './Migration20261128161000';

/** Every control-plane migration, in order. A test checks this list against the files in this folder. */
export const CONTROL_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261126043845', class: Migration20261126043845 },
  { name: 'Migration20261126045849', class: Migration20261126045849 },
  { name: 'Migration20261126070931', class: Migration20261126070931 },
  { name: 'Migration20261127170000', class: Migration20261127170000 },
  { name: 'Migration20261127234000', class: Migration20261127234000 },
  { name: 'Migration20261128043000', class: Migration20261128043000 },
  { name: 'Migration20261128161000', class: Migration20261128161000 },
];

import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261126043846 } from './Migration20261126043846';
import { Migration20261126045309 } from './Migration20261126045309';
import { Migration20261126072834 } from './Migration20261126072834';
import { Migration20261128070750 } from './Migration20261128070750';
import { Migration20261128113251 } from './Migration20261128113251';

/** Every tenant migration, in order. A test checks this list against the files in this folder. */
export const TENANT_MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261126043846', class: Migration20261126043846 },
  { name: 'Migration20261126045309', class: Migration20261126045309 },
  { name: 'Migration20261126072834', class: Migration20261126072834 },
  { name: 'Migration20261128070750', class: Migration20261128070750 },
  { name: 'Migration20261128113251', class: Migration20261128113251 },
];

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/** How to run one of the app's TypeScript entry points as a child process (`node` with these). */
export interface SourceProcess {
  args: string[];
  /** An empty directory made for the process, which the caller removes. */
  cwd: string;
  env: { TS_NODE_PROJECT: string };
}

/**
 * Runs `script` (`src/main.ts`, a CLI under `src/cli/`) through ts-node, in an empty working directory: the entry
 * points read `.env` from theirs, and a developer's own (README invites one) must not reach a test's process, whose
 * settings are the test's; nor does anything the process writes there land in the checkout.
 */
export function sourceProcess(script: string, args: string[] = []): SourceProcess {
  return {
    args: ['-r', require.resolve('ts-node/register/transpile-only'), join(ROOT, script), ...args],
    cwd: mkdtempSync(join(tmpdir(), 'fm-process-')),
    env: { TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') },
  };
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The Node.js flags the app runs with (README.md, Configuration) are written in three places: `npm run start:prod`
 * (which the bench copies too), `nest-cli.json`'s `exec` for `npm start`, and the Dockerfile's NODE_OPTIONS.
 */
const ROOT = join(__dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

function startProdFlags(): string[] {
  const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
  const match = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/src\/main\.js$/.exec(scripts['start:prod']);
  if (!match)
    throw new Error(`start:prod is not "node [--flag ...] dist/src/main.js": ${scripts['start:prod']}`);
  return match[1].split(/\s+/).filter(Boolean);
}

describe('the Node.js flags of the app', () => {
  it('are set in npm run start:prod', () => {
    expect(startProdFlags()).toContain('--max-semi-space-size=64');
  });

  it('are the same for npm start (nest-cli.json exec)', () => {
    const { exec } = JSON.parse(read('nest-cli.json')) as { exec: string };
    expect(exec.split(/\s+/)).toEqual(['node', ...startProdFlags()]);
  });

  it('are the same in the Dockerfile (NODE_OPTIONS)', () => {
    const options = /^ENV NODE_OPTIONS=(.+)$/m.exec(read('Dockerfile'));
    expect(options?.[1].split(/\s+/)).toEqual(startProdFlags());
  });
});

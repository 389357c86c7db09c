// What package.json promises beyond its schema: a quiet install, and commands a user can find.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const read = (file: string) => JSON.parse(readFileSync(path.resolve(__dirname, '../..', file), 'utf8'));

test('allowScripts decides on every package of the lockfile that has an install script', () => {
  const allow: Record<string, boolean> = read('package.json').allowScripts ?? {};
  const packages: Record<string, { version?: string; hasInstallScript?: boolean }> = read('package-lock.json').packages;
  const undecided = Object.entries(packages)
    .filter(([, info]) => info.hasInstallScript)
    .map(([where, info]) => ({ name: where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length), version: info.version }))
    .filter(({ name, version }) => !(name in allow) && !(`${name}@${version}` in allow));
  assert.deepEqual(undecided, []);
});

test('commands hidden when untrusted stay visible where trust is off (code-server leaves isWorkspaceTrusted unset then)', () => {
  const { menus } = read('package.json').contributes;
  const whens: string[] = Object.values(menus as Record<string, Array<{ when?: string }>>).flat().flatMap((m) => (m.when ? [m.when] : []));
  const trustGated = whens.filter((when) => when.includes('isWorkspaceTrusted'));
  assert.ok(trustGated.length > 0);
  for (const when of trustGated) assert.match(when, /isWorkspaceTrusted \|\| !isWorkspaceTrustEnabled/, when);
});

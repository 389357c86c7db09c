// A fresh `npm install` is quiet: every dependency with an install script is approved or denied in
// package.json's allowScripts (npm 11 skips unlisted scripts and warns about each).
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentWorkingCopy } from '../../src/runner/agentCopy';

const scratch = () => mkdtempSync(join(tmpdir(), 'rsi-agent-copy-'));

function workspace(): string {
  const dir = scratch();
  writeFileSync(join(dir, 'a.js'), 'const a = 1;\n');
  writeFileSync(join(dir, 'b.js'), 'const b = 2;\n');
  return dir;
}

test('an edit that keeps the size and puts the modification time back is still a change', async () => {
  const copy = new AgentWorkingCopy(scratch(), workspace());
  const dir = await copy.reset({});
  const file = join(dir, 'a.js');
  const { atime, mtime } = statSync(file);
  writeFileSync(file, 'const a = 7;\n');
  utimesSync(file, atime, mtime);
  assert.deepEqual(await copy.takeChanges(), [{ path: 'a.js', content: Buffer.from('const a = 7;\n') }]);
  assert.equal(readFileSync(file, 'utf8'), 'const a = 1;\n', 'put back');
});

test('a file rewritten with the same bytes is no change; a symbolic link the agent made is not taken', async () => {
  const copy = new AgentWorkingCopy(scratch(), workspace());
  const dir = await copy.reset({ 'b.js': 'const b = 3;\n' });
  writeFileSync(join(dir, 'a.js'), 'const a = 1;\n');
  writeFileSync(join(dir, 'b.js'), 'const b = 3;\n');
  symlinkSync('/etc/hostname', join(dir, 'c.js'));
  assert.deepEqual(await copy.takeChanges(), [{ path: 'c.js', skipped: 'a symbolic link' }]);
  assert.equal(existsSync(join(dir, 'c.js')), false);
});

test('a copy left in use by a process that ended is built anew: nothing the agent did survives', async () => {
  const storage = scratch();
  const ws = workspace();
  const dir = await new AgentWorkingCopy(storage, ws).reset({});
  writeFileSync(join(dir, 'a.js'), 'const a = 9;\n');
  writeFileSync(join(dir, 'stray.txt'), 'left behind');
  // Another process (a new instance) finds the copy in use and knows nothing of what changed.
  const again = new AgentWorkingCopy(storage, ws);
  assert.equal(await again.reset({}), dir);
  assert.equal(readFileSync(join(dir, 'a.js'), 'utf8'), 'const a = 1;\n');
  assert.equal(existsSync(join(dir, 'stray.txt')), false);
  assert.deepEqual(await again.takeChanges(), []);
});

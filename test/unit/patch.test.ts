import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { normalizeRelative, validateProposal, type ValidationScope } from '../../src/core/patch';
import type { Edit } from '../../src/core/proposers/types';
import { readTextOrNull } from '../../src/core/workspace';

async function scope(): Promise<ValidationScope> {
  const workspace = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-patch-'));
  await fs.mkdir(path.join(workspace, 'src'));
  await fs.writeFile(path.join(workspace, 'src/a.js'), 'const A = 1;\nconst B = 2;\n');
  await fs.writeFile(path.join(workspace, 'src/secret.js'), 'x\n');
  const outside = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-outside-'));
  await fs.writeFile(path.join(outside, 'b.js'), 'outside\n');
  await fs.symlink(outside, path.join(workspace, 'src/link'));
  return {
    workspace,
    targets: ['src/**/*.js'],
    protected: ['src/secret.js'],
    readBase: async (rel) => fs.readFile(path.join(workspace, rel), 'utf8').catch(() => null),
  };
}

async function reason(edits: Edit[]): Promise<string> {
  const result = await validateProposal({ hypothesis: 'h', edits }, await scope());
  assert.equal(result.ok, false);
  return result.ok ? '' : result.reason;
}

test('paths that climb out, are absolute, or pass through a symlink out of the workspace are invalid', async () => {
  assert.match(await reason([{ kind: 'file', path: '../x.js', content: '' }]), /outside the workspace/);
  assert.match(await reason([{ kind: 'file', path: 'src/../../x.js', content: '' }]), /outside the workspace/);
  assert.match(await reason([{ kind: 'file', path: '/etc/passwd', content: '' }]), /outside the workspace/);
  assert.match(await reason([{ kind: 'file', path: 'src/link/b.js', content: 'pwned' }]), /symbolic link/);
});

test('protected files, the loop memory and files outside the targets are invalid', async () => {
  assert.match(await reason([{ kind: 'file', path: 'src/secret.js', content: 'y' }]), /protected/);
  assert.match(await reason([{ kind: 'file', path: '.rsi/lessons.jsonl', content: '' }]), /protected/);
  assert.match(await reason([{ kind: 'file', path: 'README.md', content: '' }]), /not in the targets/);
});

test('edits that do not apply, or change nothing, are invalid', async () => {
  assert.match(await reason([{ kind: 'replace', path: 'src/a.js', search: 'const C', replace: 'x' }]), /not found/);
  assert.match(await reason([{ kind: 'replace', path: 'src/a.js', search: 'const', replace: 'let' }]), /more than once/);
  assert.match(await reason([{ kind: 'patch', path: 'src/a.js', patch: '--- a/src/a.js\n+++ b/src/a.js\n@@ -1,1 +1,1 @@\n-const Z = 9;\n+const Z = 8;\n' }]), /does not apply/);
  assert.match(await reason([{ kind: 'file', path: 'src/a.js', content: 'const A = 1;\nconst B = 2;\n' }]), /changes nothing/);
  assert.match(await reason([]), /no edit/);
});

test('a valid proposal gives a unified diff whose hash does not depend on the edit form', async () => {
  const s = await scope();
  const whole = await validateProposal({ hypothesis: 'h', edits: [{ kind: 'file', path: 'src/a.js', content: 'const A = 1;\nconst B = 3;\n' }] }, s);
  const replaced = await validateProposal({ hypothesis: 'h', edits: [{ kind: 'replace', path: './src/a.js', search: 'B = 2', replace: 'B = 3' }] }, s);
  assert.ok(whole.ok && replaced.ok);
  assert.equal(whole.candidate.patch, '--- a/src/a.js\n+++ b/src/a.js\n@@ -1,2 +1,2 @@\n const A = 1;\n-const B = 2;\n+const B = 3;\n');
  assert.equal(whole.candidate.patchHash, replaced.candidate.patchHash);
  const patched = await validateProposal({ hypothesis: 'h', edits: [{ kind: 'patch', path: 'src/a.js', patch: whole.candidate.patch }] }, s);
  assert.ok(patched.ok);
  assert.equal(patched.candidate.changes[0].after, 'const A = 1;\nconst B = 3;\n');
});

test('normalizeRelative keeps inside paths and refuses the rest', () => {
  assert.equal(normalizeRelative('src/./a.js'), 'src/a.js');
  assert.equal(normalizeRelative('src\\a.js'), 'src/a.js');
  assert.equal(normalizeRelative('C:\\x'), undefined);
  assert.equal(normalizeRelative('..'), undefined);
  assert.equal(normalizeRelative(''), undefined);
});

test('the same edit on another baseline is another experiment: its hash differs', async () => {
  const s = await scope();
  const edit: Edit = { kind: 'replace', path: 'src/a.js', search: 'B = 2', replace: 'B = 3' };
  const first = await validateProposal({ hypothesis: 'h', edits: [edit] }, s);
  const moved = await validateProposal({ hypothesis: 'h', edits: [edit] }, { ...s, readBase: async () => 'const A = 5;\nconst B = 2;\n' });
  assert.ok(first.ok && moved.ok);
  assert.notEqual(first.candidate.patchHash, moved.candidate.patchHash);
});

test('a patch that cannot be read, or creates a file that exists, is invalid with a reason, not a crash', async () => {
  const miscounted = '--- a/src/a.js\n+++ b/src/a.js\n@@ -1,5 +1,5 @@\n-const A = 1;\n+const A = 2;\n';
  assert.match(await reason([{ kind: 'patch', path: 'src/a.js', patch: miscounted }]), /the patch for src\/a\.js cannot be read: Hunk at line 3/);
  const creates = '--- /dev/null\n+++ b/src/a.js\n@@ -0,0 +1,1 @@\n+const A = 2;\n';
  assert.match(await reason([{ kind: 'patch', path: 'src/a.js', patch: creates }]), /creates src\/a\.js, which already exists/);
});

test('an empty SEARCH creates a new file, and is refused for a file that exists', async () => {
  const s = await scope();
  const created = await validateProposal({ hypothesis: 'h', edits: [{ kind: 'replace', path: 'src/new.js', search: '', replace: 'x\n' }] }, s);
  assert.ok(created.ok);
  assert.deepEqual(created.candidate.changes, [{ path: 'src/new.js', before: null, after: 'x\n' }]);
  assert.match(await reason([{ kind: 'replace', path: 'src/a.js', search: '', replace: 'x\n' }]), /an empty SEARCH only creates a new file, and src\/a\.js exists/);
});

test('unusual shapes are invalid with their reason, never a crash: a folder, a path under a file, a trailing slash, node_modules', async () => {
  const s = await scope();
  s.targets = ['**'];
  s.readBase = (rel) => readTextOrNull(path.join(s.workspace, rel)); // as the cycle reads: it throws EISDIR and ENOTDIR
  const why = async (edit: Edit) => {
    const result = await validateProposal({ hypothesis: 'h', edits: [edit] }, s);
    assert.equal(result.ok, false);
    return result.ok ? '' : result.reason;
  };
  assert.match(await why({ kind: 'file', path: 'src', content: 'x' }), /src is a folder, not a file/);
  assert.match(await why({ kind: 'file', path: 'src/a.js/b.js', content: 'x' }), /under a path that is a file/);
  assert.match(await why({ kind: 'file', path: 'src/a.js/', content: 'x' }), /names a folder/);
  assert.match(await why({ kind: 'file', path: 'node_modules/dep/index.js', content: 'x' }), /inside node_modules.*vendor/);
});

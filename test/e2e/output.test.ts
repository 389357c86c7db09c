// The CLI's whole output reaches a pipe: a pipe, unlike a file, is written asynchronously, and an
// exit before it drains cuts the output at the pipe's buffer (64 KiB). Every test here goes
// through a real shell pipe and prints well over that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CLI, makeWorkspace } from './helpers';

const run = promisify(execFile);

/** `rsi ARGS | READER` in bash; the CLI's own exit status comes back from PIPESTATUS. */
async function piped(args: string, reader: string, env: NodeJS.ProcessEnv = {}): Promise<{ out: string; err: string; status: number }> {
  const script = `node ${JSON.stringify(CLI)} ${args} | ${reader}; echo "status=\${PIPESTATUS[0]}" >&2`;
  const { stdout, stderr } = await run('bash', ['-c', script], { env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  const status = Number(/status=(\d+)/.exec(stderr)?.[1]);
  return { out: stdout, err: stderr.replace(/status=\d+\n?/, ''), status };
}

/** A reader slower than the writer: the pipe fills, and what the CLI still has to write must wait. */
const SLOW_READER = '{ sleep 0.3; cat; }';

const LESSONS = 2000;

async function workspaceWithLessons(): Promise<string> {
  const dir = await makeWorkspace({ '.rsi/config.json': { metric: { command: 'true', read: 'wallTime', direction: 'minimize' }, targets: ['a.js'] } });
  const lines: string[] = [];
  for (let i = 0; i < LESSONS; i++) {
    lines.push(JSON.stringify({ v: 1, id: `l${i}`, time: '2026-12-01T00:00:00.000Z', cycle: 1 + (i >> 2), proposer: 'tuner', hypothesis: `move X to ${i}`, files: ['a.js'], patch: 'x'.repeat(200), patchHash: `h${i}`, outcome: 'no-effect', durationMs: 3 }));
    if (i % 10 === 0) lines.push(JSON.stringify({ v: 1, type: 'verdict', lesson: `l${i}`, verdict: 'rejected' }));
  }
  await fs.writeFile(path.join(dir, '.rsi/lessons.jsonl'), lines.join('\n') + '\n');
  return dir;
}

test('rsi lessons: every line reaches a pipe, with verdicts marked', async () => {
  const ws = await workspaceWithLessons();
  const { out, status } = await piped(`lessons --workspace ${ws}`, SLOW_READER);
  assert.equal(status, 0);
  assert.ok(out.length > 2 * 65536, `only ${out.length} bytes`);
  assert.equal(out.split('\n').filter(Boolean).length, 2 * LESSONS);
  assert.match(out, /move X to 1990\n {4}no-effect \(rejected by you\)\n/);
  assert.match(out, /move X to 1999\n {4}no-effect\n$/);
});

test('rsi lessons --json: one valid document through a pipe, skipped lines reported', async () => {
  const ws = await workspaceWithLessons();
  await fs.appendFile(path.join(ws, '.rsi/lessons.jsonl'), '{"v":1,"id":"bad","cycle":"three"}\n' + JSON.stringify({ v: 1, type: 'verdict', lesson: 'l1', verdict: 'accepted' }) + '\n');
  const { out, status } = await piped(`lessons --json --workspace ${ws}`, SLOW_READER);
  assert.equal(status, 0);
  const doc = JSON.parse(out);
  assert.equal(doc.lessons.length, LESSONS);
  assert.equal(doc.verdicts.l1, 'accepted');
  assert.equal(doc.verdicts.l10, 'rejected');
  assert.deepEqual(doc.skippedLines, [LESSONS + LESSONS / 10 + 1]);
});

test('a reader that closes the pipe early ends the command quietly, with a normal exit', async () => {
  const ws = await workspaceWithLessons();
  for (const args of [`lessons --workspace ${ws}`, `lessons --json --workspace ${ws}`]) {
    const { out, err, status } = await piped(args, 'head -n 1');
    assert.equal(status, 0, err);
    assert.equal(out.split('\n').filter(Boolean).length, 1);
    assert.equal(err, '');
  }
});

/**
 * A workspace whose one target line is long, so a winner's patch (and the summary holding it and
 * the pending proposal) is large. X starts at its lower bound: every move goes up and wins.
 */
function bigWorkspace(extra: object = {}) {
  const comment = 'z'.repeat(40000);
  return makeWorkspace({
    'params.js': `const X = 1; // rsi: int 1..40 ${comment}\nmodule.exports = { X };\n`,
    'metric.js': "const { X } = require('./params');\nconsole.log(JSON.stringify({ score: X }));\n",
    '.rsi/config.json': {
      metric: { name: 'score', command: 'node metric.js', read: { json: 'score' }, direction: 'maximize' },
      targets: ['params.js'],
      candidates: 8,
      ...extra,
    },
  });
}

test('rsi cycle --json: the whole summary reaches a pipe', async () => {
  const ws = await bigWorkspace();
  const sandboxes = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-sandboxes-'));
  const { out, err, status } = await piped(`cycle --json --workspace ${ws}`, SLOW_READER, { RSI_SANDBOX_ROOT: sandboxes });
  assert.equal(status, 0, err);
  assert.ok(out.length > 65536, `only ${out.length} bytes`);
  const summary = JSON.parse(out);
  assert.equal(summary.cycles[0].lessons.length, 8);
  assert.ok(summary.proposal.patch.includes(`+const X = ${summary.cycles[0].winner.params['params.js:X']};`));
});

test('rsi context: the whole prompt reaches a pipe', async () => {
  const ws = await bigWorkspace({ context: { budgetChars: 400000 } });
  await fs.writeFile(path.join(ws, 'params.js'), Array.from({ length: 3000 }, (_, i) => `// line ${i} of a long file, padded to be long enough`).join('\n') + '\nconst X = 1; // rsi: int 1..40\n');
  const { out, status, err } = await piped(`context --workspace ${ws}`, SLOW_READER);
  assert.equal(status, 0, err);
  assert.ok(out.length > 65536, `only ${out.length} bytes`);
  assert.match(out, /line 2999 of a long file/);
});

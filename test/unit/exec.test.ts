import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { execCommand, killAll } from '../../src/process/exec';
import { MARK_VARIABLE, killMarked, killTree } from '../../src/process/tree';
import { isRunning } from '../processes';

const MiB = 1024 * 1024;
const LINUX = process.platform === 'linux';
const NODE = JSON.stringify(process.execPath);
const base = { cwd: tmpdir(), timeoutMs: 10_000, outputBytes: 64 * 1024 };

function pidsIn(text: string): number[] {
  return text.split(/\s+/).filter(Boolean).map(Number);
}

test('exit code, stdout and stderr of a failing command are a result, not an error', async () => {
  const r = await execCommand({ ...base, command: 'echo out; echo err >&2; exit 3' });
  assert.equal(r.exitCode, 3);
  assert.equal(r.signal, null);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal(r.truncated, false);
  assert.equal(r.killedFor, undefined);
  assert.ok(r.wallMs > 0 && r.wallMs < 5000, `wallMs ${r.wallMs}`);
});

test('cwd and env reach the command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-exec-'));
  try {
    const r = await execCommand({ ...base, cwd: dir, env: { ...process.env, RSI_X: 'hello' }, command: 'pwd; echo $RSI_X' });
    assert.equal(r.stdout, `${dir}\nhello\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a missing working directory throws a clear error', async () => {
  await assert.rejects(execCommand({ ...base, cwd: '/nonexistent/rsi-exec', command: 'true' }), /cannot start \/bin\/sh in \/nonexistent\/rsi-exec \(the directory does not exist\)/);
});

test('argv runs a program without a shell: arguments verbatim, input on stdin, a missing program named', async () => {
  const echo = 'process.stdout.write(JSON.stringify(process.argv.slice(1)) + require("fs").readFileSync(0, "utf8"))';
  const r = await execCommand({ ...base, argv: [process.execPath, '-e', echo, '$HOME; echo hi', '*'], input: 'from stdin' });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, '["$HOME; echo hi","*"]from stdin');
  assert.equal(r.stdoutTruncated, false);
  await assert.rejects(execCommand({ ...base, argv: ['rsi-no-such-program'] }), (err: Error) => {
    assert.match(err.message, /^cannot start rsi-no-such-program in /);
    assert.equal((err.cause as NodeJS.ErrnoException).code, 'ENOENT');
    return true;
  });
});

test('timeout kills the whole tree: children, grandchildren, and a setsid grandchild orphaned by its parent', async () => {
  const setsid = process.platform === 'linux'; // macOS has no setsid(1)
  // Each background process prints its pid; the inner sh exits after 0.3 s, orphaning its setsid child
  // (new session, reparented to init), which must still be found because it was seen before.
  const command = [
    'sleep 30 & echo $!',
    `sh -c 'sleep 30 & echo $!; ${setsid ? 'setsid sleep 30 & echo $!; ' : ''}sleep 0.3' &`,
    `sh -c 'sleep 30 & echo $!; ${setsid ? 'setsid sleep 30 & echo $!; ' : ''}wait' & echo $!`,
    'wait',
  ].join('\n');
  const r = await execCommand({ ...base, command, timeoutMs: 1000 });
  assert.equal(r.killedFor, 'timeout');
  assert.ok(r.signal === 'SIGTERM' || r.signal === 'SIGKILL', `signal ${r.signal}`);
  assert.ok(r.wallMs >= 1000, `wallMs ${r.wallMs}`);
  const pids = pidsIn(r.stdout);
  assert.equal(pids.length, setsid ? 6 : 4, r.stdout);
  assert.deepEqual(pids.filter(isRunning), []);
});

test('processes left behind by a command that exited are killed too', async () => {
  const r = await execCommand({ ...base, command: 'sleep 30 & echo $!' });
  assert.equal(r.exitCode, 0);
  assert.equal(r.killedFor, undefined);
  const [pid] = pidsIn(r.stdout);
  assert.equal(isRunning(pid), false);
});

/** Pids written one a line to a file by the processes of a test. */
function pidsFrom(file: string): number[] {
  return pidsIn(readFileSync(file, 'utf8'));
}

/** What a failing test left running must not outlive it. */
function killLeft(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** A shell line that waits until `file` has `n` lines. */
function waitLines(file: string, n: number): string {
  return `while [ "$(wc -l < ${file})" -lt ${n} ]; do sleep 0.01; done`;
}

test('double-forked daemons in sessions of their own are killed when their command ends (Linux: by the mark)', { skip: !LINUX }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-exec-'));
  const pidFile = join(dir, 'pids');
  // Each daemon's parent (a subshell) exits at once and the daemon calls setsid: a sample that
  // comes after both sees a process of another session whose parent is init.
  const command = [
    `: > ${pidFile}`,
    `for i in $(seq 20); do (setsid sh -c 'echo $$ >> ${pidFile}; exec sleep 1000' &); done`,
    waitLines(pidFile, 20),
  ].join('\n');
  let pids: number[] = [];
  try {
    const r = await execCommand({ ...base, command });
    assert.equal(r.exitCode, 0, r.stderr);
    pids = pidsFrom(pidFile);
    assert.equal(pids.length, 20);
    assert.deepEqual(pids.filter(isRunning), []);
  } finally {
    killLeft(pids);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('100 forked children, each with a child of its own, leave none running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-exec-'));
  const pidFile = join(dir, 'pids');
  const command = [
    `: > ${pidFile}`,
    `for i in $(seq 100); do sh -c 'sleep 1000 & echo $! >> ${pidFile}; echo $$ >> ${pidFile}; wait' & done`,
    waitLines(pidFile, 200),
  ].join('\n');
  let pids: number[] = [];
  try {
    const r = await execCommand({ ...base, command });
    assert.equal(r.exitCode, 0, r.stderr);
    pids = pidsFrom(pidFile);
    assert.equal(pids.length, 200);
    assert.deepEqual(pids.filter(isRunning), []);
  } finally {
    killLeft(pids);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a command carries its mark after the marks it inherited, and killMarked finds what it left (Linux)', { skip: !LINUX }, async () => {
  const r = await execCommand({ ...base, env: { ...process.env, [MARK_VARIABLE]: 'outer' }, command: `echo $${MARK_VARIABLE}` });
  const [outer, own, ...rest] = r.stdout.trim().split(' ');
  assert.equal(outer, 'outer');
  assert.match(own, /^[0-9a-f-]{36}:\d{12}$/, 'one width for every command');
  assert.deepEqual(rest, []);

  // A process started with a mark outside any command (as the engine starts the runner) is found by it.
  const mark = `test-${process.pid}`;
  const daemon = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore', env: { ...process.env, [MARK_VARIABLE]: `other ${mark}:1` } });
  const bystander = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore', env: { ...process.env, [MARK_VARIABLE]: `${mark}x` } });
  try {
    await killMarked(mark);
    assert.equal(isRunning(daemon.pid!), false, 'the marked process is killed');
    assert.equal(isRunning(bystander.pid!), true, 'a process with another mark is left alone');
  } finally {
    killLeft([daemon.pid!, bystander.pid!]);
  }
});

test('a SIGTERM-ignoring process is killed after the grace period', async () => {
  const r = await execCommand({ ...base, command: `trap '' TERM; ${NODE} -e "process.on('SIGTERM',()=>{});setInterval(()=>{},1000);console.log(process.pid)"`, timeoutMs: 600 });
  assert.equal(r.killedFor, 'timeout');
  assert.equal(isRunning(Number(r.stdout.trim())), false);
});

test('output beyond the cap is dropped, flagged, and the command keeps running', async () => {
  const r = await execCommand({ ...base, outputBytes: 1000, command: 'head -c 200000 /dev/zero | tr "\\0" a; echo done >&2; echo more' });
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout.length, 1000);
  assert.match(r.stdout, /^a+$/);
  assert.equal(r.stderr, 'done\n'); // ran to the end
  assert.equal(r.truncated, true);
  assert.equal(r.stdoutTruncated, true);
});

test('memory limit kills a process that allocates, with killedFor memory and the peak above the limit', async () => {
  const limit = 200 * MiB;
  const r = await execCommand({
    ...base,
    command: `${NODE} -e "const a=[];setInterval(()=>a.push(Buffer.alloc(16*1024*1024,1)),10)"`,
    memoryLimitBytes: limit,
  });
  assert.equal(r.killedFor, 'memory');
  assert.equal(r.signal, 'SIGKILL'); // no grace for memory
  assert.ok(r.peakRssBytes > limit, `peak ${r.peakRssBytes / MiB} MiB`);
  assert.ok(r.wallMs < 8000, `wallMs ${r.wallMs}`);
});

test('memory is summed over the tree: two children of 100 MiB each exceed a 150 MiB limit', async () => {
  // Each child stays below the limit alone; only the sum over the tree exceeds it.
  const hold = `${NODE} -e "globalThis.b=Buffer.alloc(100*1024*1024,1);setTimeout(()=>{},5000)"`;
  const r = await execCommand({ ...base, command: `${hold} & ${hold} & wait`, memoryLimitBytes: 150 * MiB });
  assert.equal(r.killedFor, 'memory');
  assert.ok(r.peakRssBytes > 150 * MiB);
});

test('peak RSS of a plain node process is plausible', async () => {
  const r = await execCommand({ ...base, command: `${NODE} -e 0` });
  assert.equal(r.exitCode, 0);
  assert.ok(r.peakRssBytes > 10 * MiB, `peak ${r.peakRssBytes / MiB} MiB`);
  assert.ok(r.peakRssBytes < 500 * MiB, `peak ${r.peakRssBytes / MiB} MiB`);
});

test('a spike between two samples is caught (Linux: the kernel high-water mark)', { skip: process.platform !== 'linux' }, async () => {
  // 300 MiB allocated and freed within the first second; the next sample, at 1 s, sees ~40 MiB of RSS.
  const r = await execCommand({
    ...base,
    sampleIntervalMs: 1000,
    command: `${NODE} --expose-gc -e "let b=Buffer.alloc(300*1024*1024,1);b=null;gc();setTimeout(()=>{},1600)"`,
  });
  assert.equal(r.exitCode, 0);
  assert.ok(r.peakRssBytes > 300 * MiB, `peak ${r.peakRssBytes / MiB} MiB`);
});

test('sampling a running command allocates no buffer per /proc read (Linux)', { skip: process.platform !== 'linux' }, async () => {
  // readFileSync allocated 16 KiB or more for each /proc file: megabytes a second of sampling, garbage
  // that piled up and fragmented the runner's memory. Only a run without a GC in it tells.
  const gcs: number[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => e.startTime)));
  observer.observe({ entryTypes: ['gc'] });
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      const started = performance.now();
      const before = process.memoryUsage().arrayBuffers;
      const r = await execCommand({ ...base, command: 'sleep 0.5' });
      const grown = process.memoryUsage().arrayBuffers - before;
      await new Promise((resolve) => setImmediate(resolve)); // GC entries of the run are delivered
      if (gcs.some((t) => t >= started)) continue;
      assert.equal(r.exitCode, 0);
      assert.ok(grown < 512 * 1024, `external memory grew ${(grown / 1024).toFixed(0)} KiB over one command`);
      return;
    }
    assert.fail('every attempt had a GC in it');
  } finally {
    observer.disconnect();
  }
});

test('cancel through an AbortSignal kills the tree', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 300);
  const r = await execCommand({ ...base, command: 'sleep 30 & echo $!; sleep 30 & echo $!; wait', signal: controller.signal });
  assert.equal(r.killedFor, 'cancel');
  assert.ok(r.wallMs < 5000);
  const pids = pidsIn(r.stdout);
  assert.equal(pids.length, 2);
  assert.deepEqual(pids.filter(isRunning), []);
});

test('an already aborted signal does not run the command', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rsi-exec-'));
  try {
    const r = await execCommand({ ...base, cwd: dir, command: 'touch ran', signal: AbortSignal.abort() });
    assert.equal(r.killedFor, 'cancel');
    assert.equal(existsSync(join(dir, 'ran')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('killAll cancels every running command', async () => {
  const runs = [1, 2].map(() => execCommand({ ...base, command: 'sleep 30 & echo $!; wait' }));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await killAll();
  for (const r of await Promise.all(runs)) {
    assert.equal(r.killedFor, 'cancel');
    assert.equal(isRunning(Number(r.stdout.trim())), false);
  }
});

test('killTree kills a detached group and its descendants', async () => {
  const child = spawn('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const [line] = (await new Promise<string[]>((resolve) => child.stdout.once('data', (b: Buffer) => resolve([b.toString()]))));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await killTree(child.pid!);
  await exited;
  assert.equal(isRunning(Number(line.trim())), false);
  assert.equal(isRunning(child.pid!), false);
});

test('identical short runs measure the same peak, within the memory guard\'s default 10%', async () => {
  // The backtest example lives ~80 ms: sampled every 25 ms from the start, its peak read 34-48 MiB,
  // enough for an unchanged candidate to be killed as memory-exceeded against an unlucky baseline.
  const cwd = join(__dirname, '../../examples/backtest');
  const peaks: number[] = [];
  for (let run = 0; run < 8; run++) {
    const r = await execCommand({ ...base, cwd, command: `${NODE} backtest.js` });
    assert.equal(r.exitCode, 0, r.stderr);
    peaks.push(r.peakRssBytes);
  }
  const mib = peaks.map((p) => (p / 2 ** 20).toFixed(1)).join(', ');
  assert.ok(Math.max(...peaks) <= 1.1 * Math.min(...peaks), `peaks ${mib} MiB`);
});

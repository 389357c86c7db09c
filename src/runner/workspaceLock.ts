/**
 * The run lock of a workspace: one RSI run at a time uses a workspace, whatever its sandbox root.
 *
 * It is the workspace's own `.rsi/run.lock`: the one place that every run on the workspace shares,
 * whatever its storage root (the CLI's is under the temp folder, the editor's in its storage), its
 * TMPDIR or HOME, its user, or the path it sees the workspace under (a container's bind mount), and
 * a folder a run writes anyway (lessons, calibration). A lock elsewhere keyed by the workspace's
 * path would miss each of those.
 *
 * The runner holds it. It is created whole (link(2) of a written file), so a lock that is empty or
 * not JSON was damaged afterwards (a machine crash, a full disk, a hand) and is stale, as is one
 * whose runner is gone, a zombie, or another process with its pid. One whose runner lives but whose
 * engine is gone belongs to a runner shutting down: it is waited for. One from another host cannot
 * be checked and is never taken over.
 *
 * Only Node builtins: this runs in the runner.
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { UserError } from '../protocol/errors';
import { isProcessRunning, processStart } from '../process/tree';

export const LOCK_FILE = path.join('.rsi', 'run.lock');
/** How long a runner whose engine is gone gets to finish shutting down (killing its commands) and drop the lock. */
const SHUTDOWN_WAIT_MS = 10_000;
const POLL_MS = 50;
/** Bound on takeovers and vanished locks in one take (each is a race with another run). */
const MAX_RETRIES = 5;

interface LockOwner {
  /** The runner holding the lock, and its start time (processStart). */
  pid: number;
  start: string;
  host: string;
  /** The engine that started the runner (the CLI or the editor), and its start time. */
  engine?: number;
  engineStart: string;
}

const IN_THIS_PROCESS = 'this workspace is already in use by another run in this process';

/** Lock files this process holds. */
const held = new Set<string>();

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** A lock's owner; undefined when the text is not one (damaged). */
function parseOwner(text: string): LockOwner | undefined {
  let json: Partial<Record<keyof LockOwner, unknown>>;
  try {
    json = JSON.parse(text) ?? {};
  } catch {
    return undefined;
  }
  const positive = (value: unknown) => (Number.isInteger(value) && (value as number) > 0 ? (value as number) : undefined);
  const string = (value: unknown) => (typeof value === 'string' ? value : '');
  const pid = positive(json.pid);
  if (pid === undefined || typeof json.host !== 'string') return undefined;
  return { pid, start: string(json.start), host: json.host, engine: positive(json.engine), engineStart: string(json.engineStart) };
}

/** The lock's owner (undefined when damaged) and inode; undefined when there is no lock. */
async function readLock(file: string): Promise<{ owner: LockOwner | undefined; ino: number } | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if (code(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    // Inode and content from one open file: the lock is replaced, never rewritten in place.
    const { ino } = await handle.stat();
    return { owner: parseOwner(await handle.readFile('utf8')), ino };
  } finally {
    await handle.close();
  }
}

type OwnerState = 'stale' | 'live' | 'leaving' | 'foreign';

function ownerState(owner: LockOwner, file: string): OwnerState {
  if (owner.host !== hostname()) return 'foreign';
  // Our pid: held if this process holds it, else left by an earlier process that had our pid.
  if (owner.pid === process.pid) return held.has(file) ? 'live' : 'stale';
  if (!isProcessRunning(owner.pid, owner.start)) return 'stale';
  if (owner.engine !== undefined && !isProcessRunning(owner.engine, owner.engineStart)) return 'leaving';
  return 'live';
}

function inUse(owner: LockOwner, file: string): Error {
  if (owner.host !== hostname()) {
    return new UserError(`this workspace is in use by an RSI run on ${owner.host} (runner pid ${owner.pid}); if none runs there any more, delete ${file}`);
  }
  if (owner.pid === process.pid) return new UserError(IN_THIS_PROCESS);
  return new UserError(
    `this workspace is in use by another RSI run (runner pid ${owner.pid}, started by pid ${owner.engine}): ` +
      `wait for it to end, or stop it with Ctrl-C in its terminal, "RSI: Stop" in the editor, or kill ${owner.pid}`,
  );
}

/**
 * Remove a stale lock, the one read (inode `ino`) and no other: it is renamed aside first, and
 * should that have moved a lock another run took in between, that one is put back. (A third run
 * linking its own in the microseconds between could still leave two holders; that takes three runs
 * starting at once on a stale lock.)
 */
async function removeStale(file: string, ino: number): Promise<void> {
  const aside = `${file}.${randomUUID()}.stale`;
  try {
    await fs.rename(file, aside);
  } catch (error) {
    if (code(error) === 'ENOENT') return;
    throw error;
  }
  try {
    if ((await fs.stat(aside)).ino !== ino) await fs.link(aside, file).catch(() => undefined);
  } finally {
    await fs.rm(aside, { force: true });
  }
}

export class WorkspaceLock {
  private constructor(
    readonly file: string,
    private readonly owner: LockOwner,
  ) {}

  /** Take the lock of `workspace`, or throw a sentence saying who holds it and how to stop them. */
  static async take(workspace: string): Promise<WorkspaceLock> {
    const file = path.join(await fs.realpath(workspace), LOCK_FILE);
    if (held.has(file)) throw new UserError(IN_THIS_PROCESS);
    const me: LockOwner = { pid: process.pid, start: processStart(process.pid), host: hostname(), engine: process.ppid, engineStart: processStart(process.ppid) };
    const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(tmp, JSON.stringify(me));
    try {
      const deadline = Date.now() + SHUTDOWN_WAIT_MS;
      let retries = 0;
      for (;;) {
        try {
          await fs.link(tmp, file); // atomic, and the lock appears with its content
          held.add(file);
          return new WorkspaceLock(file, me);
        } catch (error) {
          if (code(error) !== 'EEXIST') throw error;
        }
        const found = await readLock(file);
        const owner = found?.owner;
        const state = !found ? 'gone' : owner ? ownerState(owner, file) : 'stale'; // gone: released meanwhile
        if (owner && (state === 'live' || state === 'foreign' || (state === 'leaving' && Date.now() >= deadline))) throw inUse(owner, file);
        if (state === 'leaving') await delay(POLL_MS);
        else if (++retries > MAX_RETRIES) throw new UserError(`could not take the run lock ${file}: it keeps changing; is another RSI run starting?`);
        else if (found && state === 'stale') await removeStale(file, found.ino);
      }
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /** Drop the lock, if it is still ours. */
  async release(): Promise<void> {
    if (!held.delete(this.file)) return;
    const found = await readLock(this.file).catch(() => undefined);
    if (found?.owner?.pid === this.owner.pid && found.owner.start === this.owner.start) await fs.rm(this.file, { force: true });
  }
}

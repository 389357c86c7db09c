/**
 * The processes of a command, found and killed whatever they do: its process group and session,
 * its descendants, and on Linux whatever carries its mark (RSI_RUN, see withMark) in its
 * environment, so that a double-forked daemon is found too. POSIX only: /proc on Linux, `ps` on
 * macOS. Only Node builtins: the runner must stay lighter than what it measures.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export const LINUX = process.platform === 'linux';
/** Linux's kernel-thread daemon: it and its children (kernel threads) have no environment at all. */
const KTHREADD = 2;
/** SIGTERM first so a process can flush, then SIGKILL. */
export const GRACE_MS = 200;
/** Bound on waiting for a killed tree to vanish (a process stuck in uninterruptible IO cannot die). */
const KILL_WAIT_MS = 5000;
/** A full pass over /proc this often, as a net for pid reuse; other passes read only new pids. */
const FULL_SCAN_MS = 1000;

interface ProcInfo {
  ppid: number;
  pgrp: number;
  sid: number;
  /** Start time since boot: with the pid, identifies the process (pids get reused). '' when unknown. */
  start: string;
  /** A zombie holds no memory and runs nothing; only its parent (or init) can remove it. */
  zombie: boolean;
  rssKb: number;
  /** It carries the tree's mark (Linux; read only for processes that could carry it). */
  marked?: boolean;
}

/**
 * One buffer for every /proc read. readFileSync allocates 16 KiB or more for a file of unknown size
 * such as these: sampling every few ms, that garbage piled up between collections and fragmented
 * the runner's malloc heap (35 MiB of its RSS after 20 cycles, 3 MiB without it).
 */
const procBuffer = Buffer.allocUnsafe(16 * 1024);

/** A /proc file as text (stat and status are about 1 KiB); throws as readFileSync does. */
function readProc(file: string): string {
  const fd = openSync(file, 'r');
  try {
    let length = 0;
    let n: number;
    while (length < procBuffer.length && (n = readSync(fd, procBuffer, length, procBuffer.length - length, null)) > 0) length += n;
    // Larger than the buffer (an environment can be): read whole, rarely.
    return length < procBuffer.length ? procBuffer.toString('latin1', 0, length) : readFileSync(file, 'latin1');
  } finally {
    closeSync(fd);
  }
}

function readStat(pid: number): ProcInfo | undefined {
  let text: string;
  try {
    text = readProc(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { zombie: f[0] === 'Z' || f[0] === 'X', ppid: +f[1], pgrp: +f[2], sid: +f[3], start: f[19], rssKb: 0 };
}

/** Every process, from one `ps` (macOS and other non-Linux POSIX); undefined if ps failed. */
function psAll(): Promise<Map<number, ProcInfo> | undefined> {
  return new Promise((resolve) => {
    execFile('ps', ['-A', '-o', 'pid=,ppid=,pgid=,rss=,stat='], (error, stdout) => {
      if (error) return resolve(undefined);
      const infos = new Map<number, ProcInfo>();
      for (const line of stdout.split('\n')) {
        const [pid, ppid, pgrp, rss, stat] = line.trim().split(/\s+/);
        if (stat) infos.set(+pid, { ppid: +ppid, pgrp: +pgrp, sid: NaN, start: '', zombie: stat.startsWith('Z'), rssKb: +rss });
      }
      resolve(infos);
    });
  });
}

/**
 * Whether `pid` is a running process (a zombie is not), and the same one that started at `start`
 * when that is known (Linux). Elsewhere a zombie counts as running.
 */
export function isProcessRunning(pid: number, start = ''): boolean {
  if (LINUX) {
    const info = readStat(pid);
    return info !== undefined && !info.zombie && (start === '' || info.start === start);
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What tells a process apart from a later one with its pid (Linux: start time since boot; '' elsewhere). */
export function processStart(pid: number): string {
  return (LINUX && readStat(pid)?.start) || '';
}

/**
 * The environment variable of the marks: space-separated, one added by each RSI process on the way
 * down (an RSI run can run inside a command of another, e.g. this project's own tests).
 */
export const MARK_VARIABLE = 'RSI_RUN';

/** This process's mark; its commands carry `${PROCESS_MARK}:${n}`. */
export const PROCESS_MARK = randomUUID();
let commandCount = 0;

/**
 * The mark of a new command. Of one width: the size of the environment moves the stack of the
 * program, which can shift what it measures, so a baseline's runs and a candidate's must not differ in it.
 */
export function nextCommandMark(): string {
  return `${PROCESS_MARK}:${String(++commandCount).padStart(12, '0')}`;
}

/** `env` with `mark` added to its marks (those of this process when `env` has none), for a child whose descendants are found by it. */
export function withMark(env: NodeJS.ProcessEnv, mark: string): NodeJS.ProcessEnv {
  const marks = env[MARK_VARIABLE] ?? process.env[MARK_VARIABLE];
  return { ...env, [MARK_VARIABLE]: marks ? `${marks} ${mark}` : mark };
}

/** Whether a process's marks hold `mark` or a mark under it (`mark:...`). */
function carries(marks: string | undefined | null, mark: string): boolean {
  return typeof marks === 'string' && marks.split(' ').some((m) => m === mark || m.startsWith(`${mark}:`));
}

/**
 * Linux: the marks in a process's environment (as it was exec'ed); undefined when none or
 * unreadable; null when the environment reads empty, which a process in the middle of an exec does
 * for a moment (kernel threads have none for good).
 */
function readMarks(pid: number): string | undefined | null {
  let environ: string;
  try {
    environ = readProc(`/proc/${pid}/environ`);
  } catch {
    return undefined; // gone, or another user's
  }
  if (environ === '') return null;
  environ = `\0${environ}`;
  const key = `\0${MARK_VARIABLE}=`;
  const at = environ.indexOf(key);
  if (at < 0) return undefined;
  const end = environ.indexOf('\0', at + key.length);
  return environ.slice(at + key.length, end < 0 ? undefined : end);
}

function kb(status: string, field: string): number {
  const at = status.indexOf(field);
  return at < 0 ? 0 : parseInt(status.slice(at + field.length), 10) || 0;
}

/**
 * The processes of a command: the members of its process group and session (what we spawn is a
 * session leader, spawned detached), their descendants by parent pid, and on Linux every process
 * carrying its mark. Members are remembered once seen, so one orphaned by its parent's death
 * (reparented to init) stays in the tree; the mark finds one that left the tree before a sample saw
 * it (a double fork with setsid) or whose parent left it. A process that clears its environment
 * (`env -i`) and leaves the tree between two samples escapes. /proc/PID/task/TID/children is not
 * used: it is often compiled out (CONFIG_PROC_CHILDREN), and needs a read per thread anyway.
 * Without a root, the tree is the processes carrying the mark (Linux only).
 */
export class ProcTree {
  /** pid -> start time of every process known to be in the tree. */
  readonly members = new Map<number, string>();
  /** Pid -> start time at the previous pass: only new processes can join (a parent and a mark are fixed at fork). */
  private seen = new Map<number, string>();
  private lastFull = -Infinity;
  /** A process started before the root cannot carry its mark: its environment is not read. */
  private readonly rootStart: number;

  constructor(
    readonly root: number | undefined,
    readonly mark: string | undefined,
  ) {
    const start = root === undefined ? '' : processStart(root);
    if (root !== undefined) this.members.set(root, start);
    this.rootStart = start === '' ? -Infinity : +start;
  }

  /** Linux: read /proc/PID/stat of the processes not seen at the previous pass (all of them when full). */
  private scanProc(full: boolean): Map<number, ProcInfo> {
    const infos = new Map<number, ProcInfo>();
    const seen = new Map<number, string>();
    for (const name of readdirSync('/proc')) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = +name;
      const known = this.seen.get(pid);
      if (known !== undefined && !full) {
        seen.set(pid, known);
        continue;
      }
      const info = readStat(pid);
      if (!info) continue;
      let settled = true;
      if (this.mark && info.start !== known && !info.zombie && +info.start >= this.rootStart) {
        const marks = readMarks(pid);
        info.marked = carries(marks, this.mark);
        // Caught mid-exec (a daemon's `exec sleep`): read it again next pass rather than remember it unmarked.
        settled = marks !== null || info.ppid === KTHREADD || pid === KTHREADD;
      }
      if (settled) seen.set(pid, info.start);
      infos.set(pid, info);
    }
    this.seen = seen;
    this.adopt(infos, full);
    return infos;
  }

  /** Add the processes of `infos` that belong; when `infos` holds every process, drop the gone. */
  private adopt(infos: Map<number, ProcInfo>, full: boolean): void {
    if (full) {
      for (const [pid, start] of this.members) {
        const info = infos.get(pid);
        if (!info || (start !== '' && info.start !== start)) this.members.delete(pid);
        else if (start === '') this.members.set(pid, info.start);
      }
    }
    // Repeat until stable: a child may be listed before its parent.
    for (let grew = true; grew; ) {
      grew = false;
      for (const [pid, info] of infos) {
        if (this.members.has(pid) || pid === process.pid) continue;
        if (info.marked || info.pgrp === this.root || info.sid === this.root || this.members.has(info.ppid)) {
          this.members.set(pid, info.start);
          grew = true;
        }
      }
    }
  }

  /** Current RSS summed over the members, and the largest per-process high-water mark, in bytes. */
  async sample(): Promise<{ sum: number; hwm: number }> {
    let sum = 0;
    let hwm = 0;
    if (LINUX) {
      const now = performance.now();
      const full = now - this.lastFull >= FULL_SCAN_MS;
      if (full) this.lastFull = now;
      this.scanProc(full);
      for (const pid of this.members.keys()) {
        let status: string;
        try {
          status = readProc(`/proc/${pid}/status`);
        } catch {
          this.members.delete(pid); // gone and reaped
          continue;
        }
        sum += kb(status, 'VmRSS:');
        hwm = Math.max(hwm, kb(status, 'VmHWM:'));
      }
    } else {
      const infos = await psAll();
      if (infos) {
        this.adopt(infos, true);
        for (const pid of this.members.keys()) sum += infos.get(pid)?.rssKb ?? 0;
      }
    }
    return { sum: sum * 1024, hwm: hwm * 1024 };
  }

  /** Members still running (zombies count as gone), after a full pass. */
  async alive(): Promise<number[]> {
    let infos: Map<number, ProcInfo> | undefined;
    if (LINUX) {
      infos = this.scanProc(true);
    } else {
      infos = await psAll();
      if (infos) this.adopt(infos, true);
    }
    return [...this.members.keys()].filter((pid) => (infos ? infos.get(pid)?.zombie === false : isProcessRunning(pid)));
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone (ESRCH): fine.
  }
}

export async function killProcTree(tree: ProcTree, graceMs: number): Promise<void> {
  const started = performance.now();
  const termed = new Set<number>();
  const group = tree.root;
  for (;;) {
    const pids = await tree.alive();
    const elapsed = performance.now() - started;
    if (pids.length === 0 || elapsed > graceMs + KILL_WAIT_MS) return;
    if (elapsed < graceMs) {
      // SIGTERM once per process (new ones too), so a handler runs once.
      if (group !== undefined && !termed.has(group)) signal(-group, 'SIGTERM');
      for (const pid of group === undefined ? pids : [group, ...pids]) {
        if (!termed.has(pid)) signal(pid, 'SIGTERM');
        termed.add(pid);
      }
    } else {
      if (group !== undefined) signal(-group, 'SIGKILL');
      for (const pid of pids) signal(pid, 'SIGKILL');
    }
    await delay(10);
  }
}

/**
 * Kill a process group and every descendant: SIGTERM, a short grace, then SIGKILL; resolves once
 * none is left running (zombies aside), or after a bound. `pid` is the group leader (the pid
 * execCommand spawned). `graceMs` 0 sends SIGKILL at once.
 */
export async function killTree(pid: number, graceMs = GRACE_MS): Promise<void> {
  await killProcTree(new ProcTree(pid, undefined), graceMs);
}

/**
 * Kill every process carrying `mark` (see withMark), the same way. Linux only: elsewhere marks
 * cannot be read and nothing is found.
 */
export async function killMarked(mark: string, graceMs = GRACE_MS): Promise<void> {
  if (LINUX) await killProcTree(new ProcTree(undefined, mark), graceMs);
}

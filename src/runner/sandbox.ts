/**
 * Sandboxes: copies of the user's workspace, outside it, where baselines and candidates run.
 *
 * Layout under the caller's storage root (temp dir or the extension's storage):
 *   <root>/<sha256 of the workspace's real path, 16 hex>/
 *     history.json          the git history index (history.ts)
 *     a/ b/                 one Sandbox each: 'a' runs the baseline, 'b' the candidates
 *       tree/               the copy, where commands run (Sandbox.dir)
 *       state.json          what was copied (source size and mtime) and the overlay written; its mtime is when
 *       touched.json        paths the current candidate wrote (write-ahead, to repair after a crash)
 *
 * A sandbox is built once and then kept (across cycles and CLI runs): a sync copies only what changed,
 * and between candidates only the files a candidate touched are restored. Creating and deleting
 * thousands of files per candidate would be slow, and on ext4 without a journal creating many files
 * soon after deleting many was measured ~12x slower still.
 *
 * Files are copied (fs.copyFile), never hard-linked: an in-place write in the sandbox must never reach
 * the user's files. Only the top-level node_modules is a symlink to the workspace's (not copied: it
 * can hold tens of thousands of files); a tool writing into node_modules (a cache) writes the user's.
 * Git submodules (directories in the file list) are not copied.
 *
 * Only Node builtins: this runs in the runner.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs, lstatSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic } from '../core/files';
import { UserError } from '../protocol/errors';
import { WorkspaceLock } from './workspaceLock';

/** Copies in flight: enough to keep the disk busy, few enough not to exhaust descriptors. */
const COPY_CONCURRENCY = 32;
/** A sparse file is read this much at a time, and a block of zeros this size is left a hole. */
const SPARSE_CHUNK = 1 << 20;
const SPARSE_BLOCK = 4096;
/** Synchronous lstat is ~2.4x faster than fs.promises here; batches keep the runner responsive to IPC. */
const STAT_BATCH = 500;

/** A workspace-relative POSIX path. */
type Rel = string;

interface SourceFile {
  size: number;
  mtimeMs: number;
}

/** The workspace's files, listed and stat'ed once, shared by both sandboxes of a pool. */
export interface WorkspaceScan {
  /** Real path of the workspace. */
  root: string;
  files: Map<Rel, SourceFile>;
  /** Date.now() when the stat pass started (compared with file mtimes). */
  scannedAt: number;
}

interface State {
  v: 1;
  workspace: string;
  /** Files copied from the workspace: path -> [size, mtimeMs] of the source when copied. */
  files: Record<Rel, [number, number]>;
  /** Overlay paths written on top of the copy: path -> whether the overlay has the file (false: deleted). */
  overlay: Record<Rel, boolean>;
}

export interface PrepareResult {
  /** Files copied from the workspace (all of them on a first build). */
  copied: number;
  /** Files deleted from the sandbox because they left the workspace or the overlay. */
  deleted: number;
  ms: number;
}

/**
 * Check a workspace-relative POSIX path and return it normalized; throw for anything that could
 * escape the sandbox (absolute, `..`, backslashes, NUL, empty). Defense in depth: callers validate too.
 */
export function checkRelPath(rel: string): Rel {
  const bad = (why: string) => new Error(`refusing path ${JSON.stringify(rel)}: ${why}`);
  if (typeof rel !== 'string' || rel.includes('\0')) throw bad('not a plain string');
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) throw bad('absolute; paths must be relative to the workspace');
  if (rel.includes('\\')) throw bad('backslash; paths must use "/"');
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad('".." would leave the workspace');
  if (parts.length === 0) throw bad('empty');
  return parts.join('/');
}

function isInside(child: string, root: string): boolean {
  return child === root || child.startsWith(root + path.sep);
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

async function inPool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

function lstatQuiet(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined; // ENOTDIR and the like: not there either
  }
}

/** Files the sandbox copies: everything listed except the top-level node_modules (linked) and .rsi working files. */
function wanted(rel: Rel): boolean {
  if (rel === 'node_modules' || rel.startsWith('node_modules/')) return false;
  if (rel === '.rsi' || rel.startsWith('.rsi/')) return rel === '.rsi/config.json';
  return true;
}

/** Tracked and untracked-not-ignored files by native git; undefined when not a repo or no git. */
function gitLsFiles(root: string): Promise<Rel[] | undefined> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
      { cwd: root, maxBuffer: 1 << 30 },
      (error, stdout) => resolve(error ? undefined : stdout.split('\0').filter(Boolean)),
    );
  });
}

/** Without git: every file, skipping .git and node_modules at any depth. */
async function walk(root: string): Promise<Rel[]> {
  const out: Rel[] = [];
  const visit = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const child = rel ? `${rel}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (entry.name !== '.git' && entry.name !== 'node_modules') await visit(child);
        } else if (entry.isFile() || entry.isSymbolicLink()) {
          out.push(child);
        }
      }),
    );
  };
  await visit('');
  return out;
}

/** List the workspace's files (git when possible) and stat them; files listed but deleted are skipped. */
export async function scanWorkspace(workspace: string): Promise<WorkspaceScan> {
  const root = await fs.realpath(workspace);
  const listed = (await gitLsFiles(root)) ?? (await walk(root));
  const scannedAt = Date.now();
  const files = new Map<Rel, SourceFile>();
  let n = 0;
  for (const rel of new Set(listed)) {
    if (!wanted(rel)) continue;
    if (++n % STAT_BATCH === 0) await yieldToIo();
    const st = lstatQuiet(path.join(root, rel));
    if (st && (st.isFile() || st.isSymbolicLink())) files.set(rel, { size: st.size, mtimeMs: st.mtimeMs });
  }
  return { root, files, scannedAt };
}

/** Remove now-empty directories from `dir` up to (not including) `stop`. */
async function pruneEmptyDirs(dir: string, stop: string): Promise<void> {
  while (dir !== stop && isInside(dir, stop)) {
    try {
      await fs.rmdir(dir);
    } catch {
      return; // not empty (or gone): stop there
    }
    dir = path.dirname(dir);
  }
}

/** One kept copy of the workspace. Get them from SandboxPool, which holds the workspace's run lock. */
export class Sandbox {
  /** The copied tree, where commands run. */
  readonly dir: string;
  private readonly stateFile: string;
  private readonly touchedFile: string;
  private realDir: string | undefined;
  /** Base content of each file the current candidate touched (null: it did not exist). */
  private readonly saved = new Map<Rel, { data: Buffer; mode: number } | null>();
  private touchedOnDisk = false;

  constructor(readonly home: string) {
    this.dir = path.join(home, 'tree');
    this.stateFile = path.join(home, 'state.json');
    this.touchedFile = path.join(home, 'touched.json');
  }

  /**
   * Build the copy, or sync it with the workspace (copy new and changed files, delete removed ones,
   * repair files that commands or an interrupted candidate changed), then write the overlay (content
   * null: the file is absent). Afterwards the tree is the base state.
   */
  async prepare(workspace: string, overlay: Record<string, string | null>, scan?: WorkspaceScan): Promise<PrepareResult> {
    const started = performance.now();
    const over = new Map(Object.entries(overlay).map(([rel, text]) => [checkRelPath(rel), text] as const));
    scan ??= await scanWorkspace(workspace);
    // The state file is written after every copy: a copied file with a later mtime (same clock: the
    // file system's) was changed since, by a command.
    const state = await this.readState(scan.root);
    if (!state) {
      // First build (or unreadable state): start from an empty tree.
      await fs.rm(this.dir, { recursive: true, force: true });
      await fs.mkdir(this.dir, { recursive: true });
    }
    this.realDir = await fs.realpath(this.dir);
    const oldFiles = new Map(Object.entries(state?.files ?? {}));
    const oldOverlay = new Map(Object.entries(state?.overlay ?? {}));
    // Paths a candidate wrote: from this process, or from one that died before restoring them.
    const dirty = new Set([...this.saved.keys(), ...(await this.readTouched())]);
    this.saved.clear();
    // Should this sync be interrupted, the next one must not trust these paths (overlay included).
    await this.writeTouched([...new Set([...dirty, ...over.keys()])]);

    const files = new Map<Rel, [number, number]>();
    const toCopy: Rel[] = [];
    let n = 0;
    for (const [rel, src] of scan.files) {
      if (over.has(rel)) continue;
      // A file modified within the clock's granularity of the scan could change again unseen with
      // the same size and mtime: record an impossible size so the next sync copies it again.
      files.set(rel, [src.mtimeMs >= scan.scannedAt - 1000 ? -1 : src.size, src.mtimeMs]);
      const prev = oldFiles.get(rel);
      if (state && prev && prev[0] === src.size && prev[1] === src.mtimeMs && !dirty.has(rel)) {
        if (++n % STAT_BATCH === 0) await yieldToIo();
        const dst = lstatQuiet(path.join(this.dir, rel));
        if (dst && dst.size === src.size && dst.mtimeMs <= state.syncedAt) continue; // unchanged on both sides
      }
      toCopy.push(rel);
    }
    const toDelete = new Set<Rel>();
    for (const rel of [...oldFiles.keys(), ...oldOverlay.keys(), ...dirty]) {
      if (!files.has(rel) && !over.has(rel)) toDelete.add(rel);
    }

    // Deletions first: a removed file may stand where a new directory goes.
    await inPool([...toDelete], COPY_CONCURRENCY, async (rel) => {
      const abs = path.join(this.dir, checkRelPath(rel));
      await fs.rm(abs, { recursive: true, force: true });
      await pruneEmptyDirs(path.dirname(abs), this.dir);
    });
    const dirs = [...new Set(toCopy.map((rel) => path.dirname(path.join(this.dir, rel))))];
    await inPool(dirs, COPY_CONCURRENCY, async (dir) => void (await fs.mkdir(dir, { recursive: true })));
    let copied = 0;
    await inPool(toCopy, COPY_CONCURRENCY, async (rel) => {
      if (await this.copyIn(scan.root, rel, !state)) copied++;
      else files.delete(rel); // vanished since the scan
    });
    await this.linkNodeModules(scan.root);
    for (const [rel, text] of over) {
      const abs = await this.resolveInside(rel);
      await fs.rm(abs, { force: true }); // never write through a symlink left in the tree
      if (text !== null) {
        await fs.mkdir(path.dirname(abs), { recursive: true });
        await fs.writeFile(abs, text);
      }
    }

    const next: State = {
      v: 1,
      workspace: scan.root,
      files: Object.fromEntries(files),
      overlay: Object.fromEntries([...over].map(([rel, text]) => [rel, text !== null])),
    };
    await writeFileAtomic(this.stateFile, JSON.stringify(next));
    await this.writeTouched([]);
    return { copied, deleted: toDelete.size, ms: performance.now() - started };
  }

  /**
   * Restore the files the previous candidate touched to the base state, then write this candidate's
   * files (content null deletes). Every path is checked before anything is written.
   */
  async applyCandidate(files: Record<string, string | null>): Promise<void> {
    await this.reset();
    const entries: [Rel, string, string | null][] = [];
    for (const [rel, text] of Object.entries(files)) {
      const clean = checkRelPath(rel);
      entries.push([clean, await this.resolveInside(clean), text]);
    }
    await this.writeTouched(entries.map(([rel]) => rel));
    for (const [rel, abs, text] of entries) {
      this.saved.set(rel, await readBase(abs));
      if (text === null) {
        await fs.rm(abs, { force: true });
      } else {
        await fs.mkdir(path.dirname(abs), { recursive: true });
        await fs.writeFile(abs, text);
      }
    }
  }

  /** Restore the files touched by the current candidate to the base state. */
  async reset(): Promise<void> {
    for (const [rel, base] of this.saved) {
      const abs = path.join(this.dir, rel);
      if (base === null) {
        await fs.rm(abs, { force: true });
        await pruneEmptyDirs(path.dirname(abs), this.dir);
      } else {
        await fs.mkdir(path.dirname(abs), { recursive: true });
        await fs.writeFile(abs, base.data, { mode: base.mode });
      }
    }
    this.saved.clear();
    if (this.touchedOnDisk) await this.writeTouched([]);
  }

  /**
   * Absolute path of `rel` in the tree, refusing one that a symlink (node_modules, or one copied from
   * the workspace) would lead outside the sandbox.
   */
  private async resolveInside(rel: Rel): Promise<string> {
    const realDir = this.realDir ?? (this.realDir = await fs.realpath(this.dir));
    const abs = path.join(this.dir, checkRelPath(rel));
    const exists = await fs.lstat(abs).then(() => true, () => false);
    // The file itself if it exists (a symlink is followed), else its nearest existing ancestor.
    for (let probe = exists ? abs : path.dirname(abs); ; probe = path.dirname(probe)) {
      const real = await fs.realpath(probe).catch((error: unknown) => {
        if (code(error) === 'ENOENT' && probe !== abs && probe !== this.dir) return undefined;
        if (code(error) !== 'ENOENT') throw error;
        throw new UserError(`refusing path ${JSON.stringify(rel)}: ${probe === abs ? 'a dangling symlink' : 'the sandbox is missing'}`);
      });
      if (real === undefined) continue;
      if (!isInside(real, realDir)) throw new UserError(`refusing path ${JSON.stringify(rel)}: it leads outside the sandbox (${real})`);
      return abs;
    }
  }

  /** Copy one file (or symlink) from the workspace; false when it vanished. */
  private async copyIn(root: string, rel: Rel, fresh: boolean): Promise<boolean> {
    const src = path.join(root, rel);
    const dst = path.join(this.dir, rel);
    try {
      // Whatever is there (maybe a symlink a command made) must not be written through.
      if (!fresh) await fs.rm(dst, { recursive: true, force: true });
      const st = await fs.lstat(src);
      if (st.isSymbolicLink()) await fs.symlink(await fs.readlink(src), dst);
      else if (st.blocks * 512 < st.size) await copySparse(src, dst, st.mode & 0o7777);
      else await fs.copyFile(src, dst, fs.constants.COPYFILE_EXCL);
      return true;
    } catch (error) {
      if (code(error) === 'ENOENT' && !(await fs.lstat(src).catch(() => undefined))) return false;
      throw error;
    }
  }

  private async linkNodeModules(root: string): Promise<void> {
    const target = path.join(root, 'node_modules');
    const link = path.join(this.dir, 'node_modules');
    const exists = (await fs.stat(target).catch(() => undefined))?.isDirectory() ?? false;
    const current = await fs.readlink(link).catch(() => undefined);
    if (exists && current === target) return;
    await fs.rm(link, { recursive: true, force: true }); // rm removes a symlink itself, not its target
    if (exists) await fs.symlink(target, link, 'dir');
  }

  /** The state of the last sync, and when it ended (the state file's mtime); undefined: build anew. */
  private async readState(root: string): Promise<(State & { syncedAt: number }) | undefined> {
    try {
      const state = JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as State;
      const syncedAt = (await fs.stat(this.stateFile)).mtimeMs;
      const treeThere = (await fs.stat(this.dir).catch(() => undefined))?.isDirectory();
      return state.v === 1 && state.workspace === root && treeThere ? { ...state, syncedAt } : undefined;
    } catch {
      return undefined;
    }
  }

  private async readTouched(): Promise<Rel[]> {
    try {
      return (JSON.parse(await fs.readFile(this.touchedFile, 'utf8')) as Rel[]).filter((rel) => typeof rel === 'string');
    } catch {
      return [];
    }
  }

  private async writeTouched(paths: Rel[]): Promise<void> {
    await writeFileAtomic(this.touchedFile, JSON.stringify(paths));
    this.touchedOnDisk = paths.length > 0;
  }
}

/**
 * Copy a sparse file (fewer blocks on disk than its size) keeping it sparse: fs.copyFile writes its
 * holes out as zeros, so a 1 GiB sparse file took 1 GiB of disk in each sandbox. Each block of
 * zeros (a hole reads as zeros) is skipped rather than written, and the size is set at the end.
 */
async function copySparse(src: string, dst: string, mode: number): Promise<void> {
  const input = await fs.open(src, 'r');
  try {
    const output = await fs.open(dst, 'wx', mode); // exclusive, as copyFile with COPYFILE_EXCL
    try {
      const buffer = Buffer.alloc(SPARSE_CHUNK);
      const zeros = Buffer.alloc(SPARSE_BLOCK);
      let position = 0;
      for (;;) {
        const { bytesRead } = await input.read(buffer, 0, SPARSE_CHUNK, position);
        if (bytesRead === 0) break;
        let run = -1; // where the current run of blocks with data began
        for (let at = 0; ; at += SPARSE_BLOCK) {
          const end = Math.min(at + SPARSE_BLOCK, bytesRead);
          const data = at < bytesRead && buffer.compare(zeros, 0, end - at, at, end) !== 0;
          if (data && run < 0) run = at;
          if (!data && run >= 0) {
            await output.write(buffer, run, Math.min(at, bytesRead) - run, position + run);
            run = -1;
          }
          if (at >= bytesRead) break;
        }
        position += bytesRead;
      }
      await output.truncate(position);
      await output.chmod(mode); // the mode exactly, whatever the umask
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

async function readBase(abs: string): Promise<{ data: Buffer; mode: number } | null> {
  try {
    const [data, st] = await Promise.all([fs.readFile(abs), fs.stat(abs)]);
    return { data, mode: st.mode & 0o7777 };
  } catch (error) {
    if (code(error) === 'ENOENT') return null;
    throw error;
  }
}

/**
 * The workspace's folder under the storage root (`<root>/<hash>/`, created), shared by its sandboxes
 * and the git history cache; refused when the storage root lies inside the workspace.
 */
export async function workspaceStorage(storageRoot: string, workspace: string): Promise<string> {
  const root = await fs.realpath(workspace).catch(() => {
    throw new UserError(`workspace ${workspace} does not exist`);
  });
  await fs.mkdir(storageRoot, { recursive: true });
  const storage = await fs.realpath(storageRoot);
  if (isInside(storage, root)) throw new UserError(`sandbox storage ${storageRoot} must be outside the workspace ${root}`);
  const home = path.join(storage, createHash('sha256').update(root).digest('hex').slice(0, 16));
  await fs.mkdir(home, { recursive: true });
  return home;
}

/** The two sandboxes of a workspace, under the workspace's run lock, so that two runs never share them. */
export class SandboxPool {
  private home: string | undefined;
  private sandboxes: { a: Sandbox; b: Sandbox } | undefined;
  private lock: WorkspaceLock | undefined;

  constructor(
    readonly storageRoot: string,
    readonly workspace: string,
  ) {}

  /**
   * Take the lock (once; calling again re-prepares for the next cycle), then build or sync both
   * sandboxes with the overlay as their base state. 'a' runs the baseline, 'b' the candidates.
   */
  async acquire(overlay: Record<string, string | null>): Promise<{ a: Sandbox; b: Sandbox } & PrepareResult> {
    const started = performance.now();
    let lockedNow = false;
    this.home ??= await workspaceStorage(this.storageRoot, this.workspace);
    try {
      if (!this.lock) {
        this.lock = await WorkspaceLock.take(this.workspace);
        lockedNow = true;
      }
      this.sandboxes ??= { a: new Sandbox(path.join(this.home, 'a')), b: new Sandbox(path.join(this.home, 'b')) };
      const scan = await scanWorkspace(this.workspace);
      const { a, b } = this.sandboxes;
      const ra = await a.prepare(this.workspace, overlay, scan);
      const rb = await b.prepare(this.workspace, overlay, scan);
      return { a, b, copied: ra.copied + rb.copied, deleted: ra.deleted + rb.deleted, ms: performance.now() - started };
    } catch (error) {
      if (lockedNow) await this.release();
      throw error;
    }
  }

  /** Restore the candidate sandbox and drop the lock; the sandboxes stay on disk for the next run. */
  async release(): Promise<void> {
    const lock = this.lock;
    if (!lock) return;
    try {
      await this.sandboxes?.b.reset();
    } finally {
      this.lock = undefined;
      await lock.release();
    }
  }
}

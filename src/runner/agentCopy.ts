/**
 * A coding agent's working copy: the workspace at the cycle's baseline, where the agent edits files
 * as it would in the user's repository. Its edits become one candidate (core/proposers/command.ts).
 *
 * Layout: <storage root>/<workspace hash>/agent/ (beside the measuring sandboxes a/ and b/, under the
 * same lock), built and synced by a Sandbox like them, so a run costs a sync, not a copy of the tree.
 * .rsi/ is left out. After the agent, what it added is removed and what it changed or deleted is
 * written back, so the copy stays the baseline between runs.
 *
 * Changes are found by comparing each file's inode, size, mtime and ctime with a snapshot taken after
 * the sync: the ctime cannot be set by a program, so an edit that restores the mtime is still seen.
 * The top-level node_modules is the workspace's own (a symlink), neither watched nor restored.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { CopyChange, WorkingCopy } from '../core/proposers/types';
import { Sandbox, scanWorkspace, workspaceStorage } from './sandbox';

/** A changed file larger than this is not read: no target is that large, a log or a build output can be. */
export const AGENT_FILE_BYTES = 4 * 1024 * 1024;
/** Present while an agent may have edited the copy: found by a later process, the copy is rebuilt. */
const IN_USE_FILE = 'in-use';

type Rel = string;

interface Stamp {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  link: boolean;
}

interface Tree {
  files: Map<Rel, Stamp>;
  dirs: Set<Rel>;
}

export class AgentWorkingCopy implements WorkingCopy {
  private sandbox: Sandbox | undefined;
  /** The tree after the last reset; undefined when no agent ran since (or in this process). */
  private base: Tree | undefined;
  private overlay: Record<string, string> = {};
  /** Files the copy took from the workspace, and its real path. */
  private source: { root: string; files: ReadonlySet<Rel> } = { root: '', files: new Set() };

  constructor(
    private readonly storageRoot: string,
    private readonly workspace: string,
  ) {}

  async reset(overlay: Record<string, string>): Promise<string> {
    const sandbox = (this.sandbox ??= new Sandbox(path.join(await workspaceStorage(this.storageRoot, this.workspace), 'agent')));
    const inUse = path.join(sandbox.home, IN_USE_FILE);
    if (this.base) await this.restore(await walk(sandbox.dir));
    // Left by a process that ended while its agent ran: what the agent did is unknown, build anew.
    else if (await exists(inUse)) await fs.rm(sandbox.dir, { recursive: true, force: true });
    const scan = await scanWorkspace(this.workspace);
    for (const rel of scan.files.keys()) if (rel.startsWith('.rsi/')) scan.files.delete(rel);
    await sandbox.prepare(this.workspace, overlay, scan);
    this.overlay = overlay;
    this.source = { root: scan.root, files: new Set(scan.files.keys()) };
    this.base = await walk(sandbox.dir);
    await fs.writeFile(inUse, `${process.pid}\n`);
    return sandbox.dir;
  }

  async takeChanges(): Promise<CopyChange[]> {
    const sandbox = this.sandbox;
    if (!sandbox || !this.base) throw new Error('takeChanges() before reset()');
    const now = await walk(sandbox.dir);
    const changes: CopyChange[] = [];
    for (const [rel, stamp] of now.files) {
      if (sameStamp(this.base.files.get(rel), stamp)) continue;
      if (stamp.link) changes.push({ path: rel, skipped: 'a symbolic link' });
      else if (stamp.size > AGENT_FILE_BYTES) changes.push({ path: rel, skipped: `larger than ${AGENT_FILE_BYTES / 1024 / 1024} MiB` });
      else {
        const content = await fs.readFile(path.join(sandbox.dir, rel));
        if (!(await this.baseContent(rel))?.equals(content)) changes.push({ path: rel, content });
      }
    }
    for (const rel of this.base.files.keys()) {
      if (!now.files.has(rel)) changes.push({ path: rel, content: null });
    }
    await this.restore(now);
    await fs.rm(path.join(sandbox.home, IN_USE_FILE), { force: true });
    return changes.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** The baseline's bytes of a path (null: absent): the overlay's, else the workspace file the copy took. */
  private async baseContent(rel: Rel): Promise<Buffer | null> {
    if (rel in this.overlay) return Buffer.from(this.overlay[rel]!);
    if (!this.source.files.has(rel)) return null;
    return fs.readFile(path.join(this.source.root, rel)).catch(() => null);
  }

  /** Put the tree back to the snapshot's content: remove what was added, write back what was changed or deleted. */
  private async restore(now: Tree): Promise<void> {
    const base = this.base!;
    const dir = this.sandbox!.dir;
    const newDirs = [...now.dirs].filter((rel) => !base.dirs.has(rel));
    // Only the outermost new directories: removing one removes what is inside.
    const outermost = newDirs.filter((rel) => !newDirs.some((other) => rel.startsWith(`${other}/`)));
    for (const rel of outermost) await fs.rm(path.join(dir, rel), { recursive: true, force: true });
    const inNewDir = (rel: Rel) => outermost.some((d) => rel.startsWith(`${d}/`));
    const touched = [...now.files].filter(([rel, stamp]) => !sameStamp(base.files.get(rel), stamp) && !inNewDir(rel)).map(([rel]) => rel);
    const deleted = [...base.files.keys()].filter((rel) => !now.files.has(rel));
    for (const rel of [...touched, ...deleted]) {
      const abs = path.join(dir, rel);
      await fs.rm(abs, { recursive: true, force: true }); // never write through a symlink the agent made
      if (!base.files.has(rel)) continue;
      await fs.mkdir(path.dirname(abs), { recursive: true });
      const src = path.join(this.source.root, rel);
      if (rel in this.overlay) await fs.writeFile(abs, this.overlay[rel]!);
      else if (base.files.get(rel)!.link) await fs.symlink(await fs.readlink(src), abs);
      else await fs.copyFile(src, abs).catch(ignoreMissing); // gone from the workspace meanwhile: the next sync agrees
    }
    this.base = undefined;
  }
}

function sameStamp(a: Stamp | undefined, b: Stamp): boolean {
  return a !== undefined && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.link === b.link;
}

function ignoreMissing(error: NodeJS.ErrnoException): void {
  if (error.code !== 'ENOENT') throw error;
}

function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    () => false,
  );
}

/** Every file (symbolic links included, not followed) and directory of the tree, but the top-level node_modules. */
async function walk(root: string): Promise<Tree> {
  const tree: Tree = { files: new Map(), dirs: new Set() };
  const visit = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const child = rel ? `${rel}/${entry.name}` : entry.name;
        if (child === 'node_modules') return;
        if (entry.isDirectory()) {
          tree.dirs.add(child);
          await visit(child);
          return;
        }
        const st = await fs.lstat(path.join(root, child)).catch(() => undefined);
        if (st) tree.files.set(child, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, link: st.isSymbolicLink() });
      }),
    );
  };
  await visit('');
  return tree;
}

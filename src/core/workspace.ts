import { promises as fs, readFileSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';
import type { FileChange } from './patch';

/** Folders never searched for targets: dependencies and the VCS's and the loop's own state. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.rsi']);

/** Workspace-relative POSIX paths of the files matching `targets` and not `protectedGlobs`, sorted. */
export async function listTargetFiles(workspace: string, targets: string[], protectedGlobs: string[]): Promise<string[]> {
  const isTarget = picomatch(targets, { dot: true });
  const isProtected = picomatch(protectedGlobs, { dot: true });
  const found: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) await walk(path.join(dir, entry.name), child);
      else if (entry.isFile() && isTarget(child) && !isProtected(child)) found.push(child);
    }
  };
  await walk(workspace, '');
  return found.sort();
}

/** A file's text, or null when it does not exist. */
export async function readTextOrNull(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Writes each change's `after` (null deletes) to the workspace, but only when every file still
 * holds its `before`; returns the first path that does not (nothing is written then). The new
 * texts go to temporary files first; then the files are compared and renamed over in one
 * synchronous stretch, with no await between the check and the write, so an edit saved meanwhile
 * is seen rather than overwritten. A rename is atomic: a crash leaves the old or the new file.
 */
export async function replaceIfUnchanged(workspace: string, changes: FileChange[]): Promise<string | undefined> {
  const staged: { file: string; temp?: string; before: string | null }[] = [];
  try {
    for (const change of changes) {
      const file = path.join(workspace, change.path);
      if (change.after === null) {
        staged.push({ file, before: change.before });
        continue;
      }
      await fs.mkdir(path.dirname(file), { recursive: true });
      const temp = `${file}.rsi-${process.pid}.tmp`;
      await fs.writeFile(temp, change.after);
      staged.push({ file, temp, before: change.before });
    }
    const changed = staged.find(({ file, before }) => readTextOrNullSync(file) !== before);
    if (changed) return path.relative(workspace, changed.file).split(path.sep).join('/');
    for (const { file, temp } of staged) {
      if (temp) renameSync(temp, file);
      else rmSync(file, { force: true });
    }
    return undefined;
  } finally {
    for (const { temp } of staged) if (temp) rmSync(temp, { force: true });
  }
}

function readTextOrNullSync(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}


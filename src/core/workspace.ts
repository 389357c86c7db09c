import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import picomatch from 'picomatch';

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

/** Writes through a temporary file and a rename, so a crash never leaves a half-written user file. */
export async function writeFileAtomic(file: string, content: string): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.rsi-${process.pid}.tmp`;
  await fs.writeFile(temp, content);
  await fs.rename(temp, file);
}

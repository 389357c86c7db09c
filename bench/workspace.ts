/**
 * The generated workspace of the sandbox measurements: a git repo with one commit of `files`
 * tracked files of ~2 KB in nested directories, plus an ignored node_modules of `nodeModules` files.
 * Deterministic content; created once per bench run under the context's temp root.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { progress, timed, type Context } from './lib';

const run = promisify(execFile);

export interface Workspace {
  dir: string;
  /** Tracked files, workspace-relative. */
  files: string[];
  nodeModules: number;
}

export function git(cwd: string, ...args: string[]): Promise<{ stdout: string }> {
  return run('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { cwd, maxBuffer: 1 << 28 });
}

/** ~2 KB of text that differs per file. */
function content(rel: string, i: number): string {
  const lines = [`// ${rel}`, `export const id = ${i};`];
  for (let k = 0; lines.join('\n').length < 2000; k++) lines.push(`export function f${k}(x) { return x * ${(i * 31 + k) % 997} + ${k}; }`);
  return lines.join('\n') + '\n';
}

async function writeAll(root: string, rels: string[], text: (rel: string, i: number) => string): Promise<void> {
  const dirs = [...new Set(rels.map((rel) => path.dirname(path.join(root, rel))))];
  for (const dir of dirs) await fs.mkdir(dir, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < rels.length) {
      const i = next++;
      await fs.writeFile(path.join(root, rels[i]!), text(rels[i]!, i));
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
}

/** 10 x 10 x (files / 100) tree: src/dA/dB/fN.js. */
function trackedPaths(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `src/d${i % 10}/d${Math.floor(i / 10) % 10}/f${i}.js`);
}

export function workspace(ctx: Context, files = 10_000, nodeModules = 2_000): Promise<Workspace> {
  return ctx.fixture(`workspace-${files}-${nodeModules}`, async () => {
    const dir = await ctx.freshDir('workspace');
    const tracked = trackedPaths(files);
    const { ms } = await timed(async () => {
      await writeAll(dir, tracked, content);
      const modules = Array.from({ length: nodeModules }, (_, i) => `node_modules/pkg${i % 100}/lib/m${i}.js`);
      await writeAll(dir, modules, (rel) => `module.exports = ${JSON.stringify(rel)};\n`);
      await fs.writeFile(path.join(dir, '.gitignore'), 'node_modules/\n');
      await git(dir, 'init', '-q');
      await git(dir, 'add', '-A');
      await git(dir, 'commit', '-q', '-m', 'bench workspace');
    });
    // A user's workspace is old and on disk: flush the fresh one's dirty pages (tens of MB, with
    // .git) so that their writeback does not land inside the first timed build.
    const flushed = await timed(() => run('sync', []));
    progress(`workspace: ${files} tracked files + ${nodeModules} in node_modules, git repo with one commit, in ${(ms / 1000).toFixed(1)} s; sync ${(flushed.ms / 1000).toFixed(1)} s`);
    return { dir, files: [...tracked, '.gitignore'], nodeModules };
  });
}

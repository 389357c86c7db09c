/**
 * The measuring code: the workspace's files that the metric and gate commands run, found from the
 * commands themselves (through package.json for `npm run X` and the like), and the files of
 * `context.include`. A model proposer is shown them read-only: what it is judged by, on which
 * inputs. Found, not executed: nothing here runs a command.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { RsiConfig } from './config';
import { normalizeRelative } from './patch';
import { listTargetFiles, readTextOrNull } from './workspace';

export interface MeasuringFile {
  path: string;
  /** Why it is shown, e.g. "run by the metric command `node bench.js`". */
  why: string;
}

/** Package managers whose `run X` (or bare `X`) runs package.json's script X. */
const SCRIPT_RUNNERS = new Set(['npm', 'yarn', 'pnpm', 'bun']);
/** npm's own commands that run the script of the same name. */
const NPM_LIFECYCLE: Record<string, string> = { test: 'test', t: 'test', start: 'start', stop: 'stop', restart: 'restart' };
/** Scripts that call scripts: followed this deep. */
const MAX_DEPTH = 3;
/** Files taken from one directory named by a command (a test folder): the budget shows the first ones anyway. */
const MAX_PER_DIR = 20;
/** What `node --test` runs when given no path (Node 20's defaults). */
const NODE_TEST_DEFAULTS = ['**/*.test.?(c|m)js', '**/*-test.?(c|m)js', '**/*_test.?(c|m)js', '**/test-*.?(c|m)js', '**/test.?(c|m)js', '**/test/**/*.?(c|m)js'];

/** The measuring files, metric's first, then the gate's, then context.include's. */
export async function findMeasuringFiles(workspace: string, config: RsiConfig): Promise<MeasuringFile[]> {
  const found = new Map<string, string>();
  const add = (rel: string, why: string) => {
    if (!found.has(rel)) found.set(rel, why);
  };
  const scripts = await packageScripts(workspace);
  const commands = [
    { command: config.metric.command, why: `run by the metric command \`${config.metric.command}\`` },
    ...config.gate.map((command) => ({ command, why: `run by the gate command \`${command}\`` })),
    ...config.guards.map(({ name, command }) => ({ command, why: `run by the guard ${name}'s command \`${command}\`` })),
  ];
  for (const { command, why } of commands) {
    for (const rel of await commandFiles(workspace, command, scripts, MAX_DEPTH)) add(rel, why);
  }
  for (const rel of await listTargetFiles(workspace, config.context.include, [])) add(rel, 'named by context.include');
  return [...found].map(([p, why]) => ({ path: p, why }));
}

async function packageScripts(workspace: string): Promise<Record<string, string>> {
  const text = await readTextOrNull(path.join(workspace, 'package.json'));
  try {
    const scripts = text === null ? undefined : (JSON.parse(text) as { scripts?: unknown }).scripts;
    return scripts && typeof scripts === 'object' ? (scripts as Record<string, string>) : {};
  } catch {
    return {};
  }
}

/** Workspace files named by a shell command line, following package.json scripts. */
async function commandFiles(workspace: string, line: string, scripts: Record<string, string>, depth: number): Promise<string[]> {
  const files: string[] = [];
  for (const simple of line.split(/&&|\|\||[;|\n]/)) {
    const words = shellWords(simple);
    while (words[0] !== undefined && /^\w+=/.test(words[0])) words.shift(); // VAR=value before the program
    const [program, ...args] = words;
    if (program === undefined) continue;
    const script = SCRIPT_RUNNERS.has(program) ? scriptName(program, args) : undefined;
    if (script !== undefined) {
      if (scripts[script] !== undefined && depth > 0) files.push(...(await commandFiles(workspace, scripts[script], scripts, depth - 1)));
      continue;
    }
    const named = [program, ...args].map((word) => word.replace(/^--?[\w-]+=/, ''));
    const before = files.length;
    for (const word of named) files.push(...(await workspaceFiles(workspace, word)));
    if (/^node(js)?$/.test(path.basename(program)) && args.includes('--test') && files.length === before) {
      files.push(...(await listTargetFiles(workspace, NODE_TEST_DEFAULTS, [])).slice(0, MAX_PER_DIR));
    }
  }
  return files;
}

/** The script `npm run X`, `yarn X`, `pnpm test`... runs; undefined for other subcommands (install, exec, npx-like). */
function scriptName(program: string, args: string[]): string | undefined {
  const [sub, name] = args.filter((a) => !a.startsWith('-'));
  if (sub === 'run' || sub === 'run-script') return name;
  if (program === 'npm') return sub === undefined ? undefined : NPM_LIFECYCLE[sub];
  return sub; // yarn, pnpm and bun run a script by its bare name
}

/** The workspace file a word names, or the first files of the folder it names; none outside the workspace. */
async function workspaceFiles(workspace: string, word: string): Promise<string[]> {
  const rel = normalizeRelative(word)?.replace(/\/+$/, '');
  if (!rel || /(^|\/)(node_modules|\.git|\.rsi)(\/|$)/.test(rel)) return [];
  const stat = await fs.stat(path.join(workspace, rel)).catch(() => undefined);
  if (stat?.isFile()) return [rel];
  if (stat?.isDirectory()) return (await listTargetFiles(workspace, [`${rel}/**`], [])).slice(0, MAX_PER_DIR);
  return [];
}

/** Words of a simple command, quotes removed (enough to find file names; no expansions). */
function shellWords(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

/**
 * Where the time goes: one baseline run under V8's CPU profiler (see profilePreload.ts), summarized
 * as self time per function and per line, and cached per baseline content in the workspace's
 * storage folder. Never part of a measurement: a profiled run is slower, and its number is not kept.
 *
 * Only Node builtins: this is part of runner.js.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/files';
import { firstLines } from '../core/text';
import { execCommand } from '../process/exec';
import { CancelledError, type ProfiledFunction, type ProfileParams, type ProfileResult, type ProgressEvent } from '../protocol/runner';
import { workspaceStorage } from './sandbox';

/** The preload bundle, next to runner.js in dist/. */
const PRELOAD = path.join(__dirname, 'profile-preload.js');

const CACHE_FILE = 'profiles.json';
/** Profiles kept: a continuous run moves the baseline forward, `rsi context` profiles the workspace's. */
const CACHED = 8;
/** Bumped when the summary changes shape, so an older cache is not read as the new one. */
const FORMAT = 1;
/** Functions outside the workspace kept in a summary (the workspace's are all kept). */
const OUTSIDE_KEPT = 40;

/** What the preload writes for one process: its main script and V8's profile. */
export interface ProcessProfile {
  script: string;
  profile: CpuProfile;
}

/** V8's CPU profile (the inspector's Profiler.stop), the fields used here. */
interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
    positionTicks?: { line: number; ticks: number }[];
  }[];
  samples?: number[];
  timeDeltas?: number[];
}

interface CacheFile {
  v: typeof FORMAT;
  entries: { key: string; result: ProfileResult }[];
}

export async function profile(params: ProfileParams, cwd: () => Promise<string>, signal: AbortSignal, emit: (event: ProgressEvent) => void, preload = PRELOAD): Promise<ProfileResult> {
  const cacheFile = path.join(await workspaceStorage(params.storageRoot, params.workspace), CACHE_FILE);
  const cache = await readCache(cacheFile);
  const hit = cache.entries.find((e) => e.key === params.key);
  if (hit) return { ...hit.result, cached: true };

  emit({ kind: 'log', message: `profiling one baseline run of \`${params.metric.command}\` (once per baseline)` });
  const result = await profileRun(params, await cwd(), signal, preload);
  cache.entries = [...cache.entries.filter((e) => e.key !== params.key), { key: params.key, result }].slice(-CACHED);
  await writeFileAtomic(cacheFile, JSON.stringify(cache));
  return result;
}

async function readCache(file: string): Promise<CacheFile> {
  try {
    const cache = JSON.parse(await fs.readFile(file, 'utf8')) as CacheFile;
    if (cache.v === FORMAT && Array.isArray(cache.entries)) return cache;
  } catch {
    // Missing or torn: start afresh.
  }
  return { v: FORMAT, entries: [] };
}

async function profileRun(params: ProfileParams, cwd: string, signal: AbortSignal, preload: string): Promise<ProfileResult> {
  const { metric } = params;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-profile-'));
  try {
    const run = await execCommand({
      command: metric.command,
      cwd,
      env: profiledEnv(dir, preload),
      timeoutMs: metric.timeoutMs,
      outputBytes: metric.outputBytes,
      signal,
    });
    const failed = (reason: string): ProfileResult => ({ ok: false, reason, cached: false });
    if (run.killedFor === 'cancel') throw new CancelledError();
    if (run.killedFor === 'timeout') return failed(`the profiled run timed out after ${metric.timeoutMs} ms`);
    if (run.exitCode !== 0) {
      const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
      const why = firstLines(run.stderr || run.stdout, 1);
      return failed(`the profiled run ${how}${why ? `: ${why}` : ''}`);
    }
    const names = await fs.readdir(dir);
    if (names.length === 0) return failed('the metric command started no Node.js process (only Node is profiled)');
    const profiles = await Promise.all(names.map(async (name) => JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as ProcessProfile));
    const roots = [await fs.realpath(cwd), await fs.realpath(params.workspace)];
    return { ok: true, ...summarizeProfiles(profiles, roots), wallMs: Math.round(run.wallMs), cached: false };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The environment of a profiled run: every Node process preloads the profiler and writes to `dir`. */
export function profiledEnv(dir: string, preload = PRELOAD): NodeJS.ProcessEnv {
  const nodeOptions = [process.env['NODE_OPTIONS'], `--require ${JSON.stringify(preload)}`].filter(Boolean).join(' ');
  return { ...process.env, NODE_OPTIONS: nodeOptions, RSI_PROFILE_DIR: dir };
}

/**
 * Self time per function (and per line within it) over all profiles, hottest first. `roots` are
 * the folders whose files are the workspace's (the sandbox, the workspace behind its node_modules
 * link): their paths become workspace-relative.
 */
export function summarizeProfiles(
  profiles: ProcessProfile[],
  roots: string[],
): { busyMs: number; processes: { script: string; busyMs: number }[]; functions: ProfiledFunction[] } {
  const byFunction = new Map<string, ProfiledFunction & { own: boolean; lineMs: Map<number, number> }>();
  const processes: { script: string; busyMs: number }[] = [];
  let busyUs = 0;
  for (const { script, profile } of profiles) {
    const selfUs = selfTimes(profile);
    const processStartUs = busyUs;
    for (const node of profile.nodes) {
      const us = selfUs.get(node.id) ?? 0;
      const { functionName, url, lineNumber, columnNumber } = node.callFrame;
      if (us === 0 || functionName === '(idle)') continue;
      busyUs += us;
      const { file, own } = locate(url, roots);
      const key = `${file}:${lineNumber}:${columnNumber}:${functionName}`;
      let fn = byFunction.get(key);
      if (!fn) {
        const name = functionName || (lineNumber === 0 && columnNumber === 0 && file ? '(top level)' : '(anonymous)');
        fn = { name, file, line: lineNumber + 1, selfMs: 0, lines: [], own, lineMs: new Map() };
        byFunction.set(key, fn);
      }
      fn.selfMs += us / 1000;
      // positionTicks: the node's samples by 1-based line.
      const ticks = node.positionTicks ?? [];
      const total = ticks.reduce((sum, t) => sum + t.ticks, 0);
      for (const t of ticks) fn.lineMs.set(t.line, (fn.lineMs.get(t.line) ?? 0) + (us / 1000) * (t.ticks / total));
    }
    processes.push({ script: locate(script, roots).file, busyMs: round((busyUs - processStartUs) / 1000) });
  }
  const all = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs);
  let outside = 0;
  const kept = all.filter((f) => f.own || outside++ < OUTSIDE_KEPT);
  return {
    busyMs: round(busyUs / 1000),
    processes: processes.sort((a, b) => b.busyMs - a.busyMs),
    functions: kept.map(({ lineMs, own, ...f }) => ({
      ...f,
      selfMs: round(f.selfMs),
      lines: [...lineMs].sort((a, b) => b[1] - a[1]).map(([line, ms]): [number, number] => [line, round(ms)]),
    })),
  };
}

/** Microseconds of self time per node: each sample lasts until the next (the last, the mean). */
function selfTimes({ samples = [], timeDeltas = [] }: CpuProfile): Map<number, number> {
  const mean = timeDeltas.length > 1 ? timeDeltas.slice(1).reduce((a, b) => a + b, 0) / (timeDeltas.length - 1) : 0;
  const self = new Map<number, number>();
  samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + Math.max(0, timeDeltas[i + 1] ?? mean)));
  return self;
}

/**
 * Where a script is, as shown: a package's files from the package's folder on (`npm/lib/cli.js`),
 * the workspace's own workspace-relative (`own`), Node's own by their `node:` URL, others absolute.
 */
function locate(urlOrPath: string, roots: string[]): { file: string; own: boolean } {
  const file = urlOrPath.startsWith('file:') ? fileURLToPath(urlOrPath) : urlOrPath;
  if (!path.isAbsolute(file)) return { file, own: false };
  const inPackage = file.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (inPackage >= 0) return { file: file.slice(inPackage + '/node_modules/'.length).split(path.sep).join('/'), own: false };
  for (const root of roots) {
    const rel = path.relative(root, file);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return { file: rel.split(path.sep).join('/'), own: true };
  }
  return { file, own: false };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

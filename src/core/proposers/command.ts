import { isUtf8 } from 'node:buffer';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execCommand, type ExecResult } from '../../process/exec';
import type { ProposerConfig } from '../config';
import { pathRules } from '../patch';
import { firstLines } from '../text';
import { readTextOrNull } from '../workspace';
import { atMostCandidates, proposalsFromAnswer } from './answer';
import { ProposerError } from './errors';
import { lastHypothesis } from './parse';
import { promptParts } from './prompt';
import type { CopyChange, Edit, Proposal, ProposeContext, Proposer, WorkingCopy } from './types';

/**
 * Any coding-agent CLI as a proposer. Each run works in a working copy of the workspace at the
 * cycle's baseline (kept winners included), reset before it: the agent reads the code, edits files,
 * may run the gate or the tests there, and what it changed in the copy is one candidate. An agent
 * that changed nothing may answer on stdout instead (diff, SEARCH/REPLACE or whole files).
 *
 * The prompt goes to its stdin (or to a file named by {promptFile} in its arguments, stdin then
 * empty) and names the folder. It runs without a shell, with only the environment variables of
 * AGENT_ENV and those the config names. A timeout or cancel kills its whole process tree (exec.ts).
 */
export type CommandConfig = Extract<ProposerConfig, { kind: 'command' }>;

const PROMPT_FILE_PLACEHOLDER = '{promptFile}';
/** Cap on the agent's stdout (and stderr): room for whole files of several targets. */
export const AGENT_OUTPUT_BYTES = 4 * 1024 * 1024;
/** What any program needs to run as the user (its login, its config files, a temp dir); no key or token. */
const AGENT_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TERM', 'TZ', 'TMPDIR', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR'];
/** Paths listed in a note before "and N more". */
const LISTED_PATHS = 10;

export interface CommandOptions {
  /** Resolves a relative `command` such as ./agent.sh, and is what the working copy copies. */
  workspace: string;
  workingCopy: WorkingCopy;
}

export function createCommandProposer(config: CommandConfig, options: CommandOptions): Proposer {
  const resolved = /^\.{1,2}\//.test(config.command) ? { ...config, command: path.resolve(options.workspace, config.command) } : config;
  return {
    name: `command:${path.basename(config.command)}`,
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      const overlay = await keptWinners(options.workspace, ctx);
      const parts = await promptParts(ctx, Math.ceil(ctx.count / config.samples));
      const proposals: Proposal[] = [];
      // One run after the other: agents keep per-user state (sessions, locks) that parallel runs may fight over.
      for (let run = 1; run <= config.samples && !ctx.signal.aborted; run++) {
        ctx.log(`command: running ${config.command}${config.samples > 1 ? ` (${run} of ${config.samples})` : ''}`);
        const dir = await options.workingCopy.reset(overlay);
        const prompt = `${parts.context}\n\n${workingFolder(dir)}\n\n${parts.instructions}\n`;
        proposals.push(...(await runAgent(resolved, prompt, dir, options.workingCopy, ctx)));
      }
      return atMostCandidates(proposals, ctx.count, (message) => ctx.log(`command: ${message}`));
    },
  };
}

/** The files where the cycle's baseline differs from the workspace: the kept winners, all of them targets. */
async function keptWinners(workspace: string, ctx: ProposeContext): Promise<Record<string, string>> {
  const overlay: Record<string, string> = {};
  for (const rel of ctx.targetFiles) {
    const base = await ctx.readFile(rel);
    if (base !== (await readTextOrNull(path.join(workspace, rel)))) overlay[rel] = base;
  }
  return overlay;
}

/** Where the agent works and what becomes of its edits; the answer format and the count follow, for an agent that cannot edit. */
function workingFolder(dir: string): string {
  return `## Your working folder

You work in ${dir}: a copy of the workspace at the current baseline, yours alone. Make one change
there that should improve the metric, by editing the target files in place. Read any file, and run
the gate and the metric command in that folder to check your change if you like. Change nothing
outside that folder; edits outside the target files are not taken.

What you changed in the folder when you exit is the candidate, tested against the baseline. End
your last message with one line:

Hypothesis: <what you changed and why it should improve the metric, in one sentence>

Only if you cannot edit files, answer on stdout instead, as "How to answer" says.`;
}

/** The agent's environment: AGENT_ENV, the locale's LC_* and the variables the config names, when set. */
function agentEnv(names: readonly string[]): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (AGENT_ENV.includes(name) || name.startsWith('LC_') || names.includes(name)) env[name] = value;
  }
  return env;
}

async function runAgent(config: CommandConfig, prompt: string, dir: string, copy: WorkingCopy, ctx: ProposeContext): Promise<Proposal[]> {
  const viaFile = config.args.some((arg) => arg.includes(PROMPT_FILE_PLACEHOLDER));
  // Not in the working copy: it would be one more change there.
  const promptDir = viaFile ? await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-agent-')) : undefined;
  let result: ExecResult;
  let changes: CopyChange[];
  try {
    const promptFile = promptDir && path.join(promptDir, 'prompt.md');
    if (promptFile) await fs.writeFile(promptFile, prompt);
    const args = config.args.map((arg) => (promptFile ? arg.split(PROMPT_FILE_PLACEHOLDER).join(promptFile) : arg));
    try {
      result = await execCommand({
        argv: [config.command, ...args],
        cwd: dir,
        env: agentEnv(config.env),
        timeoutMs: config.timeoutMs,
        outputBytes: AGENT_OUTPUT_BYTES,
        sampleIntervalMs: 100, // the tree is tracked for the kill, not measured: no need for fine samples
        signal: ctx.signal,
        ...(promptFile ? {} : { input: prompt }),
      });
    } catch (err) {
      throw new ProposerError(cannotStart(config.command, err as Error));
    }
  } finally {
    // Always: the copy is put back to the baseline for the next run.
    changes = await copy.takeChanges();
    if (promptDir) await fs.rm(promptDir, { recursive: true, force: true });
  }
  return readResult(config, result, changes, ctx.scope);
}

function cannotStart(command: string, err: Error): string {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  const fix = 'check "proposer.command" in .rsi/config.json';
  if (code === 'ENOENT') return `the agent "${command}" was not found: is it installed and on the PATH? (${fix}; a full path works too)`;
  if (code === 'EACCES') return `the agent "${command}" cannot be executed (permission denied): ${fix}`;
  return `cannot start the agent "${command}": ${err.message}`;
}

function readResult(config: CommandConfig, result: ExecResult, changes: CopyChange[], scope: ProposeContext['scope']): Proposal[] {
  if (result.killedFor === 'cancel') return [];
  const raw = result.stderr.trim() ? `${result.stdout}\n--- stderr ---\n${result.stderr}` : result.stdout;
  const unfinished = changes.length > 0 ? '; its edits in the working copy are not taken' : '';
  const failed = (error: string): Proposal[] => [{ hypothesis: 'the agent gave no answer', edits: [], error: error + unfinished, raw }];
  if (result.killedFor === 'timeout') {
    return failed(`the agent did not finish within ${config.timeoutMs} ms and was stopped with its child processes (raise proposer.timeoutMs)`);
  }
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    return failed(`the agent ${how}: ${firstLines(result.stderr) || '(nothing on stderr)'}`);
  }
  const { edits, note } = editsOf(changes, scope);
  const noted = (p: Proposal): Proposal => (note ? { ...p, note } : p);
  if (edits.length > 0) return [noted({ hypothesis: agentHypothesis(result.stdout), edits, raw })];
  // Nothing taken from the copy (some agents always write their own history files): its answer, if any.
  if (result.stdoutTruncated) return failed(`the agent printed more than ${AGENT_OUTPUT_BYTES} bytes: its answer was cut there, so it is not read`).map(noted);
  return proposalsFromAnswer(result.stdout).map(noted);
}

/**
 * What the agent changed in its copy as edits. Edits to targets and to protected files are kept
 * (validation refuses the latter, as for any proposer); others (a build output, the agent's own
 * notes or .git) are dropped and said in the note.
 */
function editsOf(changes: CopyChange[], scope: ProposeContext['scope']): { edits: Edit[]; note?: string } {
  const { isTarget, isProtected, isLoopOwn } = pathRules(scope);
  const edits: Edit[] = [];
  const outside: string[] = [];
  const skipped: string[] = [];
  for (const change of changes) {
    const rel = change.path;
    if (isLoopOwn(rel) || (!isTarget(rel) && !isProtected(rel))) outside.push(rel);
    else if ('skipped' in change) skipped.push(`${rel} (${change.skipped})`);
    else if (change.content === null) edits.push({ kind: 'delete', path: rel });
    else if (!isUtf8(change.content)) skipped.push(`${rel} (not UTF-8 text)`);
    else edits.push({ kind: 'file', path: rel, content: change.content.toString('utf8') });
  }
  const notes = [
    outside.length > 0 && `dropped: the agent's edits outside the targets (${listed(outside)})`,
    skipped.length > 0 && `not taken: ${listed(skipped)}`,
  ].filter((n): n is string => typeof n === 'string');
  return notes.length > 0 ? { edits, note: notes.join('\n') } : { edits };
}

function listed(items: string[]): string {
  const more = items.length - LISTED_PATHS;
  return items.slice(0, LISTED_PATHS).join(', ') + (more > 0 ? ` and ${more} more` : '');
}

/** Its `Hypothesis:` line, else the last paragraph of what it printed (its closing summary). */
function agentHypothesis(stdout: string): string {
  const summary = lastHypothesis(stdout) ?? stdout.trim().split(/\n\s*\n/).at(-1)?.trim().replace(/\s+/g, ' ') ?? '';
  if (summary === '') return 'the agent\'s edits (it gave no summary)';
  return summary.length > 500 ? `${summary.slice(0, 500)}...` : summary;
}

import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execCommand, type ExecResult } from '../../runner/exec';
import type { ProposerConfig } from '../config';
import { firstLines } from '../text';
import { atMostCandidates, proposalsFromAnswer } from './answer';
import { ProposerError } from './errors';
import { promptParts } from './prompt';
import type { Proposal, ProposeContext, Proposer } from './types';

/**
 * Any coding-agent CLI as a proposer: the prompt goes to its stdin (or to a file named by
 * {promptFile} in its arguments, stdin then empty) and its stdout is read as the answer.
 *
 * The agent runs without a shell, in an empty temporary directory rather than the workspace: it
 * sees what the prompt shows, and an agent that edits files itself cannot touch the user's.
 * A timeout or cancel kills its whole process tree (exec.ts).
 */
export type CommandConfig = Extract<ProposerConfig, { kind: 'command' }>;

const PROMPT_FILE_PLACEHOLDER = '{promptFile}';
/** Cap on the agent's stdout (and stderr): room for whole files of several targets. */
export const AGENT_OUTPUT_BYTES = 4 * 1024 * 1024;

/** @param workspace resolves a relative `command` such as ./agent.sh (the agent itself runs in an empty temp folder). */
export function createCommandProposer(config: CommandConfig, workspace?: string): Proposer {
  const resolved = workspace && /^\.{1,2}\//.test(config.command) ? { ...config, command: path.resolve(workspace, config.command) } : config;
  return {
    name: `command:${path.basename(config.command)}`,
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      const { context, instructions } = await promptParts(ctx, Math.ceil(ctx.count / config.samples));
      const prompt = `${context}\n\n${instructions}\n`;
      const proposals: Proposal[] = [];
      // One run after the other: agents keep per-user state (sessions, locks) that parallel runs may fight over.
      for (let run = 1; run <= config.samples && !ctx.signal.aborted; run++) {
        ctx.log(`command: running ${config.command}${config.samples > 1 ? ` (${run} of ${config.samples})` : ''}`);
        proposals.push(...(await runAgent(resolved, prompt, ctx.signal)));
      }
      return atMostCandidates(proposals, ctx.count, (message) => ctx.log(`command: ${message}`));
    },
  };
}

async function runAgent(config: CommandConfig, prompt: string, signal: AbortSignal): Promise<Proposal[]> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-agent-'));
  try {
    const promptFile = path.join(dir, 'prompt.md');
    const viaFile = config.args.some((arg) => arg.includes(PROMPT_FILE_PLACEHOLDER));
    if (viaFile) await fs.writeFile(promptFile, prompt);
    const args = config.args.map((arg) => arg.split(PROMPT_FILE_PLACEHOLDER).join(promptFile));
    let result: ExecResult;
    try {
      result = await execCommand({
        argv: [config.command, ...args],
        cwd: dir,
        timeoutMs: config.timeoutMs,
        outputBytes: AGENT_OUTPUT_BYTES,
        sampleIntervalMs: 100, // the tree is tracked for the kill, not measured: no need for fine samples
        signal,
        ...(viaFile ? {} : { input: prompt }),
      });
    } catch (err) {
      throw new ProposerError(cannotStart(config.command, err as Error));
    }
    return readResult(config, result);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function cannotStart(command: string, err: Error): string {
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  const fix = 'check "proposer.command" in .rsi/config.json';
  if (code === 'ENOENT') return `the agent "${command}" was not found: is it installed and on the PATH? (${fix}; a full path works too)`;
  if (code === 'EACCES') return `the agent "${command}" cannot be executed (permission denied): ${fix}`;
  return `cannot start the agent "${command}": ${err.message}`;
}

function readResult(config: CommandConfig, result: ExecResult): Proposal[] {
  if (result.killedFor === 'cancel') return [];
  const raw = result.stderr.trim() ? `${result.stdout}\n--- stderr ---\n${result.stderr}` : result.stdout;
  const failed = (error: string): Proposal[] => [{ hypothesis: 'the agent gave no answer', edits: [], error, raw }];
  if (result.killedFor === 'timeout') {
    return failed(`the agent did not finish within ${config.timeoutMs} ms and was stopped with its child processes (raise proposer.timeoutMs)`);
  }
  if (result.exitCode !== 0) {
    const how = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
    return failed(`the agent ${how}: ${firstLines(result.stderr) || '(nothing on stderr)'}`);
  }
  if (result.stdoutTruncated) return failed(`the agent printed more than ${AGENT_OUTPUT_BYTES} bytes: its answer was cut there, so it is not read`);
  return proposalsFromAnswer(result.stdout);
}

import { failureExcerpt } from '../core/text';
import type { GateResult } from '../protocol/evaluation';
import type { CommandLimits, Side } from '../protocol/metric';
import { CancelledError, type ProgressEvent } from '../protocol/runner';
import { execCommand } from '../process/exec';

/** The gate's commands in one sandbox, in order: the first that fails, times out or is killed says why. */
export async function runGate(
  params: CommandLimits & { side: Side; commands: string[] },
  cwd: string,
  signal: AbortSignal,
  emit: (e: ProgressEvent) => void,
): Promise<GateResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  for (const command of params.commands) {
    emit({ kind: 'gate', side: params.side, command });
    const result = await execCommand({ command, cwd, timeoutMs: params.timeoutMs, outputBytes: params.outputBytes, signal });
    if (result.killedFor === 'cancel') throw new CancelledError();
    if (result.killedFor === 'timeout') {
      return { ok: false, command, reason: `timed out after ${params.timeoutMs} ms`, output: failureExcerpt(result.stdout + '\n' + result.stderr), ms: ms() };
    }
    if (result.exitCode !== 0) {
      const reason = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      return { ok: false, command, reason, output: failureExcerpt(result.stdout + '\n' + result.stderr), ms: ms() };
    }
  }
  return { ok: true, ms: ms() };
}

/**
 * The engine as the extension loads it: its own bundle (dist/engine.js), required on the first
 * cycle, so that activation parses none of it (the cycle, the proposers, ajv and the config schema).
 * The language-model proposer is here too: it needs `vscode`, which stays external.
 */
import { version } from '../package.json';
import type { RsiConfig } from './core/config';

export { calibrate } from './core/calibration';
export { loadConfig } from './core/config';
export { runCycles } from './core/cycle';
export { AgentWorkingCopy } from './runner/agentCopy';
export { localPool, slotCount } from './evaluation/pool';
export { RunnerClient } from './runner/client';
export { createLmProposer } from './vscode/lmProposer';

/** A queue of `rsi worker`s, connected: its backend (BullMQ) is a bundle of its own, loaded only by a run that uses one. */
export async function connectQueue(url: string, workspace: string, config: RsiConfig) {
  const { QueueEvaluator, queueOptions } = await import('./queue.js');
  return QueueEvaluator.connect(queueOptions(url, workspace, config, version));
}

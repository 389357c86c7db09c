/**
 * The engine as the extension loads it: its own bundle (dist/engine.js), required on the first
 * cycle, so that activation parses none of it (the cycle, the proposers, ajv and the config schema).
 * The language-model proposer is here too: it needs `vscode`, which stays external.
 */
export { calibrate } from './core/calibration';
export { loadConfig } from './core/config';
export { runCycles } from './core/cycle';
export { AgentWorkingCopy } from './runner/agentCopy';
export { LocalEvaluator } from './evaluation/local';
export { RunnerClient } from './runner/client';
export { createLmProposer } from './vscode/lmProposer';

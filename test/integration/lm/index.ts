// The lm proposer's suite, run inside the real VS Code extension host on a copy of
// test/integration/fixtures/lm-workspace, with the scripted model extension loaded beside RSI Loop
// (scripts/test-integration.mjs runs it in a host of its own: the main suite needs a host with no model).
import { runTests } from '../host/harness';
import { tests as lmProposer } from './lmProposer.test';

export function run(): Promise<void> {
  return runTests(lmProposer);
}

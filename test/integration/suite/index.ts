// The integration suite, run inside the real VS Code extension host (see scripts/test-integration.mjs
// and scripts/test-electron.mjs): the `tests` of every *.test.ts here, imported by name, in order.
import { runTests } from '../host/harness';
import { tests as extension } from './extension.test';
import { tests as firstHour } from './firstHour.test';
import { tests as inlineDiff } from './inlineDiff.test';
import { tests as shutdown } from './shutdown.test';
import { tests as workspaceLock } from './workspaceLock.test';

export function run(): Promise<void> {
  // extension leaves no proposal pending, which inlineDiff and firstHour need; shutdown disposes the controller.
  return runTests([...extension, ...inlineDiff, ...firstHour, ...workspaceLock, ...shutdown]);
}

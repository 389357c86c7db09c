// Runs last: deactivation ends the extension's runs.
import assert from 'node:assert/strict';
import { isRunning } from '../../processes';
import type { Test } from '../host/harness';
import { rsiApi, runnerChildren } from './helpers';

export const tests: Test[] = [
  {
    name: 'deactivation stops the runner, and VS Code can wait for it: when shutdown resolves, the runner is gone',
    async fn() {
      const rsi = await rsiApi();
      const [pid] = rsi.controller.runnerPids;
      assert.ok(pid, 'no runner: the cycle tests did not run');
      await rsi.controller.shutdown();
      assert.equal(isRunning(pid), false, `runner ${pid} still runs after shutdown resolved`);
      assert.deepEqual(runnerChildren(), []);
      rsi.controller.dispose();
    },
  },
];

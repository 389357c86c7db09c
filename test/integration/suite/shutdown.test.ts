// Runs last: disposing the controller is what deactivation does, and it ends the extension's runs.
import assert from 'node:assert/strict';
import { isRunning } from '../../processes';
import type { Test } from '../host/harness';
import { rsiApi, runnerChildren, waitFor } from './helpers';

export const tests: Test[] = [
  {
    name: 'disposing the controller (deactivation) stops the runners',
    async fn() {
      const rsi = await rsiApi();
      const pids = rsi.controller.runnerPids;
      assert.ok(pids.length > 0, 'no runner: the cycle tests did not run');
      rsi.controller.dispose();
      for (const pid of pids) await waitFor(() => !isRunning(pid), 5000, `runner ${pid} to exit`);
      assert.deepEqual(runnerChildren(), []);
    },
  },
];

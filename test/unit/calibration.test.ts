import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { currentConditions, machineId, readCalibration, writeCalibration, type Calibration } from '../../src/core/calibration';
import { parseConfig } from '../../src/core/config';

test('a calibration holds for the pairs it was taken on: pinned to a CPU or not', async () => {
  const workspace = mkdtempSync(path.join(os.tmpdir(), 'rsi-calibration-'));
  const config = (pinPairs: boolean) => parseConfig(JSON.stringify({ metric: { command: 'node bench.js', read: 'cpuTime', direction: 'minimize' }, targets: ['*.js'], sampling: { pinPairs } }));
  // A file written before the setting existed says nothing about it: its pairs were not pinned.
  const older: Calibration = {
    v: 2, time: new Date().toISOString(), floor: 0.02, runs: 20, deterministic: false, metricCommand: 'node bench.js', machine: machineId(),
    spread: { median: 100, mad: 2 }, pairSpread: 0.03, conditions: currentConditions(),
  };
  await writeCalibration(workspace, older);
  assert.equal((await readCalibration(workspace, config(false)))?.floor, 0.02);
  assert.equal(await readCalibration(workspace, config(true)), undefined);
  await writeCalibration(workspace, { ...older, pinPairs: true });
  assert.equal((await readCalibration(workspace, config(true)))?.floor, 0.02);
  assert.equal(await readCalibration(workspace, config(false)), undefined);
});

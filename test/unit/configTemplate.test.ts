import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config';
import { configTemplate } from '../../src/vscode/configTemplate';

test('the test script becomes the gate and a bench script the CPU-time metric', () => {
  const { config, origin } = configTemplate({ scripts: { test: 'node --test', bench: 'node bench.js' }, hasSrc: true });
  const parsed = parseConfig(JSON.stringify(config));
  assert.deepEqual(parsed.gate, ['npm test']);
  assert.equal(parsed.metric.command, 'npm run --silent bench');
  assert.equal(parsed.metric.read, 'cpuTime');
  assert.equal(parsed.metric.direction, 'minimize');
  assert.deepEqual(parsed.targets, ['src/**']);
  assert.match(origin, /CPU time of the "bench" script .*; gate: the "test" script/);
});

test('without a bench script the tests are timed; without scripts a placeholder says what to set', () => {
  assert.equal(parseConfig(JSON.stringify(configTemplate({ scripts: { test: 'jest' }, hasSrc: false }).config)).metric.command, 'npm test --silent');
  const bare = configTemplate({ hasSrc: false });
  assert.deepEqual(parseConfig(JSON.stringify(bare.config)).gate, []);
  assert.match(bare.origin, /set metric\.command/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/core/config';
import { configOffer, configTemplate } from '../../src/vscode/configTemplate';

test('the test script becomes the gate and a bench script the CPU-time metric', () => {
  const { config, origin } = configTemplate({ scripts: { test: 'node --test', bench: 'node bench.js' }, hasSrc: true });
  const parsed = parseConfig(JSON.stringify(config));
  assert.deepEqual(parsed.gate, ['npm test']);
  assert.equal(parsed.metric.command, 'npm run --silent bench');
  assert.equal(parsed.metric.read, 'cpuTime');
  assert.equal(parsed.metric.direction, 'minimize');
  assert.deepEqual(parsed.targets, ['src/**']);
  assert.equal(parsed.sampling.pinPairs, true);
  assert.match(origin, /CPU time of the "bench" script .*set sampling\.pinPairs to false if the benchmark runs in parallel\); gate: the "test" script/);
});

test('without a bench script the tests are timed; a bench file at the top is timed before them', () => {
  const tests = parseConfig(JSON.stringify(configTemplate({ scripts: { test: 'jest' }, hasSrc: false, files: ['index.js'] }).config));
  assert.equal(tests.metric.command, 'npm test --silent');
  assert.equal(tests.sampling.pinPairs, false); // a test runner spreads its work over the CPUs
  const withFile = configTemplate({ scripts: { test: 'jest' }, hasSrc: false, files: ['bench.py', 'lib.py'] });
  assert.equal(withFile.config.metric && (withFile.config.metric as { command: string }).command, 'python3 bench.py');
  assert.deepEqual(withFile.config.targets, ['**/*.py']);
  assert.deepEqual(withFile.fillIn, []);
});

test('with nothing to measure, no command is made up: the offer and the file say what to fill in', () => {
  const facts = { hasSrc: false, files: ['notes.txt'] };
  const bare = configTemplate(facts);
  assert.equal((bare.config.metric as { command: string }).command, '');
  assert.deepEqual(bare.config.targets, []);
  assert.match(bare.fillIn.join('; '), /^metric\.command \(.*\); targets \(/);
  // The config is invalid as written, and the error names the field to fill in.
  assert.throws(() => parseConfig(JSON.stringify(bare.config)), /metric\.command/);
  const offer = configOffer('lib', facts);
  assert.doesNotMatch(offer, /package\.json/);
  assert.match(offer, /Create one to fill in \(metric\.command and targets\)\?$/);
  assert.match(configOffer('app', { scripts: { test: 'jest' }, hasSrc: true, files: [] }), /Create one \(metric: the wall time of the tests .*; gate: the "test" script\)\?$/);
});

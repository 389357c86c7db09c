import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/core/config';

const valid = {
  metric: { command: 'node bench.js', read: 'wallTime', direction: 'minimize' },
  targets: ['src/**/*.js'],
};

function problems(config: unknown): string[] {
  try {
    parseConfig(JSON.stringify(config));
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems.map((p) => `${p.field}: ${p.message}`);
  }
  assert.fail('expected a ConfigError');
}

test('a minimal config gets every default from the schema', () => {
  const config = parseConfig(JSON.stringify(valid));
  assert.equal(config.metric.name, 'metric');
  assert.equal(config.proposer, 'tuner');
  assert.deepEqual(config.gate, []);
  assert.deepEqual(config.sampling, { minRuns: 5, maxRuns: 40, alpha: 0.05, confirm: true, pinPairs: false });
  // Pairs are pinned to a CPU by default for a CPU time only, and the config can say otherwise.
  const cpu = (sampling: object) => parseConfig(JSON.stringify({ ...valid, metric: { ...valid.metric, read: 'cpuTime' }, sampling })).sampling.pinPairs;
  assert.equal(cpu({}), true);
  assert.equal(cpu({ pinPairs: false }), false);
  assert.equal(config.limits.memoryGrowth, 0.1);
  assert.equal(config.noise.floor, null);
});

test('a proposer object gets the defaults of its kind from the schema', () => {
  const command = parseConfig(JSON.stringify({ ...valid, proposer: { kind: 'command', command: 'claude' } }));
  assert.deepEqual(command.proposer, { kind: 'command', command: 'claude', args: [], env: [], timeoutMs: 600000, samples: 1 });
  const openai = parseConfig(JSON.stringify({ ...valid, proposer: { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'm', samples: 3 } }));
  assert.deepEqual(openai.proposer, { kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', model: 'm', samples: 3, temperature: 0.7, maxTokens: 4096, timeoutMs: 120000 });
});

test('a missing field is named', () => {
  assert.deepEqual(problems({ targets: ['a'] }), ['metric: missing (required)']);
  assert.deepEqual(problems({ ...valid, metric: { read: 'wallTime', direction: 'minimize' } }), ['metric.command: missing (required)']);
});

test('a wrong value names the field and what is expected', () => {
  assert.deepEqual(problems({ ...valid, metric: { ...valid.metric, direction: 'down' } }), ['metric.direction: must be one of "maximize", "minimize"']);
  assert.deepEqual(problems({ ...valid, candidates: 2.5 }), ['candidates: must be integer']);
  const [read] = problems({ ...valid, metric: { ...valid.metric, read: { regexp: 'x' } } });
  assert.match(read, /^metric\.read: must be "cpuTime".*"wallTime".*\{"regex": .*\{"json": /);
});

test('unknown fields are reported with the known ones', () => {
  const [unknown] = problems({ ...valid, limits: { timeout: 5 } });
  assert.match(unknown, /^limits\.timeout: unknown field; expected one of: timeoutMs, memoryGrowth, outputBytes$/);
});

test('what the schema cannot check is checked too', () => {
  assert.match(problems({ ...valid, metric: { ...valid.metric, read: { regex: '(' } } })[0], /^metric\.read\.regex: not a valid regular expression/);
  assert.deepEqual(problems({ ...valid, sampling: { minRuns: 10, maxRuns: 6 } }), ['sampling.maxRuns: must be at least sampling.minRuns (10)']);
});

test('broken JSON is reported with the line and column where it breaks', () => {
  assert.throws(() => parseConfig('{ "metric": '), (err: unknown) => err instanceof ConfigError && /not valid JSON at line 1, column 13: unexpected end/.test(err.message));
  // A missing comma: the message V8 gives carries an offset, which becomes a line and a column.
  assert.throws(() => parseConfig('{\n  "targets": ["a"]\n  "gate": []\n}'), /not valid JSON at line 3, column 3: expected ',' or '}' after property value/);
  // A trailing comma: V8 quotes the text instead of giving an offset; the place is found all the same.
  assert.throws(() => parseConfig('{\n  "targets": ["a",],\n}'), /not valid JSON at line 2, column 19: unexpected token '\]'$/);
});

test('guards get a default tolerance; a bad guard names its field and what to fix', () => {
  const guard = { name: 'p99', command: 'node latency.js', read: { json: 'p99' }, direction: 'minimize' };
  assert.deepEqual(parseConfig(JSON.stringify(valid)).guards, []);
  assert.deepEqual(parseConfig(JSON.stringify({ ...valid, guards: [guard] })).guards, [{ ...guard, tolerance: 0.05 }]);
  assert.deepEqual(problems({ ...valid, guards: [{ ...guard, name: undefined }] }), ['guards.0.name: missing (required)']);
  assert.deepEqual(problems({ ...valid, guards: [{ ...guard, direction: 'down' }] }), ['guards.0.direction: must be one of "maximize", "minimize"']);
  assert.deepEqual(problems({ ...valid, guards: [{ ...guard, tolerance: -0.1 }] }), ['guards.0.tolerance: must be >= 0']);
  assert.match(problems({ ...valid, guards: [{ ...guard, read: 'rss' }] })[0]!, /^guards\.0\.read: must be "cpuTime" .* or \{"json": "field.path"\}/);
  assert.deepEqual(problems({ ...valid, guards: [{ ...guard, limit: 1 }] }), ['guards.0.limit: unknown field; expected one of: name, command, read, direction, tolerance']);
  assert.deepEqual(problems({ ...valid, guards: [guard, { ...guard, read: { regex: '(' } }] }), [
    'guards.1.read.regex: not a valid regular expression (Invalid regular expression: /(/: Unterminated group)',
    'guards.1.name: "p99" names another guard already: give each guard its own name',
  ]);
});

test('evaluation: slots default to none named (one a core), timing one at a time; a wrong value is named', () => {
  const queueDefaults = { queue: null, waitForWorkersSeconds: 120 };
  assert.deepEqual(parseConfig(JSON.stringify(valid)).evaluation, { parallelTiming: false, ...queueDefaults });
  assert.deepEqual(parseConfig(JSON.stringify({ ...valid, evaluation: { slots: 3, parallelTiming: true } })).evaluation, { slots: 3, parallelTiming: true, ...queueDefaults });
  assert.deepEqual(problems({ ...valid, evaluation: { slots: 0 } }), ['evaluation.slots: must be >= 1']);
  assert.deepEqual(problems({ ...valid, evaluation: { slot: 2 } }), ['evaluation.slot: unknown field; expected one of: slots, parallelTiming, queue, waitForWorkersSeconds']);
});

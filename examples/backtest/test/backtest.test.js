// The gate: invariants that must hold for any sane parameter set.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const bt = require('../backtest.js');
const params = require('../strategy.js');

/** Synthetic bars from a list of closes: open = previous close, no funding unless given. */
function bars(closes, funding = 0) {
  const close = Float64Array.from(closes);
  const open = close.map((c, i) => (i ? close[i - 1] : c));
  return {
    open, close,
    high: close.map((c, i) => Math.max(c, open[i])),
    low: close.map((c, i) => Math.min(c, open[i])),
    funding: close.map(() => funding),
  };
}

test('a flat strategy earns exactly nothing', () => {
  const b = bars([100, 110, 90, 120, 80]);
  const r = bt.simulate(b, [0, 0, 0, 0, 0], { size: 1 });
  assert.equal(r.totalReturn, 0);
  assert.equal(r.trades, 0);
  assert.equal(r.maxDrawdown, 0);
  assert.equal(bt.sharpe(r.returns), 0);
});

test('fees are charged on entry and exit', () => {
  const b = bars([100, 100, 100, 100]);
  const r = bt.simulate(b, [0, 1, 1, 0], { size: 0.5 });
  assert.equal(r.trades, 1);
  assert.ok(Math.abs(r.totalReturn - -2 * bt.FEE * 0.5) < 1e-12, `return ${r.totalReturn}`);
});

test('longs pay positive funding, shorts receive it', () => {
  const b = bars([100, 100, 100, 100], 0.001);
  const long = bt.simulate(b, [1, 1, 1, 1], { size: 1, fee: 0 });
  const short = bt.simulate(b, [-1, -1, -1, -1], { size: 1, fee: 0 });
  assert.ok(long.totalReturn < 0 && short.totalReturn > 0);
});

test('profit and loss follow the price, the stop-loss caps a loss', () => {
  const up = bt.simulate(bars([100, 110]), [1, 1], { size: 1, fee: 0 });
  assert.ok(Math.abs(up.totalReturn - 0.1) < 1e-12);
  const down = bt.simulate(bars([100, 99, 80]), [1, 1, 1], { size: 1, fee: 0, stopLoss: 0.05 });
  assert.ok(Math.abs(down.totalReturn - -0.05) < 1e-12, `return ${down.totalReturn}`);
});

test('parameters are inside their annotated ranges and fast < slow', () => {
  const source = fs.readFileSync(path.join(__dirname, '..', 'strategy.js'), 'utf8');
  const ranges = [...source.matchAll(/(\w+)\s*:\s*[-0-9.eE]+\s*,?\s*\/\/\s*rsi:\s*(int\s+)?([-0-9.eE]+)\.\.([-0-9.eE]+)/g)];
  assert.equal(ranges.length, Object.keys(params).length, 'every parameter is annotated');
  for (const [, name, int, lo, hi] of ranges) {
    const v = params[name];
    assert.ok(Number.isFinite(v) && v >= Number(lo) && v <= Number(hi), `${name}=${v} outside ${lo}..${hi}`);
    if (int) assert.ok(Number.isInteger(v), `${name}=${v} must be an integer`);
  }
  assert.ok(params.fast < params.slow, `fast (${params.fast}) must be below slow (${params.slow})`);
});

test('the backtest gives finite, sane and repeatable results', () => {
  const r = bt.run(params);
  for (const k of ['sharpe', 'totalReturn', 'maxDrawdown']) assert.ok(Number.isFinite(r[k]), `${k} is ${r[k]}`);
  assert.ok(r.maxDrawdown >= 0 && r.maxDrawdown <= 1, `maxDrawdown ${r.maxDrawdown}`);
  assert.ok(r.totalReturn > -1, 'the account is not wiped out');
  assert.ok(Number.isInteger(r.trades) && r.trades > 0, `trades ${r.trades}`);
  assert.deepEqual(bt.run(params), r);
});

test('the training and test periods split the history', () => {
  const n = bt.loadBars().close.length;
  const [trainFrom, trainTo] = bt.periodRange('train', n);
  const [testFrom, testTo] = bt.periodRange('test', n);
  assert.deepEqual([trainFrom, trainTo === testFrom, testTo], [0, true, n]);
  for (const period of ['train', 'test']) assert.ok(Number.isFinite(bt.run(params, undefined, period).sharpe), period);
});

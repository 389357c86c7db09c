#!/usr/bin/env node
// Deterministic backtest of strategy.js on data/btc-perp.csv.
// Prints one JSON line: {"sharpe", "totalReturn", "maxDrawdown", "trades"}, for the training period
// (the earlier two thirds of the bars: what the tuner optimizes) or, with `--period test`, the
// held-out later third (what the guard watches: a change fitted to the training bars' accidents
// does not carry over to these).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const FEE = 0.0005; // taker fee per side, fraction of notional
const VOL_WINDOW = 24; // bars used to estimate hourly volatility
const HOURS_PER_YEAR = 24 * 365;
/** The training period is the bars before this fraction of the history; the test period, the rest. */
const SPLIT = 2 / 3;

/** Reads the CSV into arrays of numbers, one per column. */
function loadBars(file = path.join(__dirname, 'data', 'btc-perp.csv')) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = lines[0].split(',');
  const bars = Object.fromEntries(cols.map((c) => [c, new Float64Array(lines.length - 1)]));
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    for (let c = 0; c < cols.length; c++) bars[cols[c]][i - 1] = Number(cells[c]);
  }
  return bars;
}

/** Simple moving average; NaN until the window is full. */
function sma(values, n) {
  const out = new Float64Array(values.length).fill(NaN);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= n) sum -= values[i - n];
    if (i >= n - 1) out[i] = sum / n;
  }
  return out;
}

/** Standard deviation of log returns over the last `n` bars; NaN until available. */
function rollingVol(close, n) {
  const out = new Float64Array(close.length).fill(NaN);
  for (let i = n; i < close.length; i++) {
    let s = 0, s2 = 0;
    for (let j = i - n + 1; j <= i; j++) {
      const r = Math.log(close[j] / close[j - 1]);
      s += r; s2 += r * r;
    }
    out[i] = Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
  }
  return out;
}

/** Desired position per bar (-1, 0, 1), decided at the bar's close. */
function signals(bars, p) {
  const fast = sma(bars.close, p.fast);
  const slow = sma(bars.close, p.slow);
  const vol = rollingVol(bars.close, VOL_WINDOW);
  return Array.from(bars.close, (_, i) => {
    if (Number.isNaN(slow[i]) || Number.isNaN(vol[i]) || vol[i] > p.maxVol) return 0;
    return Math.sign(fast[i] - slow[i]);
  });
}

/**
 * Runs desired positions through the account: trades at the close, pays fees on
 * every fill and hourly funding while in a position (longs pay a positive rate),
 * and exits intrabar at the stop-loss or take-profit price. After such an exit the
 * account stays flat until the signal changes.
 */
function simulate(bars, signal, { stopLoss = Infinity, takeProfit = Infinity, size = 1, fee = FEE } = {}) {
  const n = bars.close.length;
  let equity = 1, peak = 1, maxDrawdown = 0, trades = 0;
  let pos = 0, qty = 0, entry = 0, blocked = null; // qty: signed BTC held; equity starts at 1
  const returns = [];
  const fill = (price, newPos) => {
    if (pos !== 0) { equity -= Math.abs(qty) * price * fee; qty = 0; }
    pos = newPos;
    if (pos !== 0) {
      qty = (pos * size * equity) / price;
      equity -= Math.abs(qty) * price * fee;
      entry = price;
      trades++;
    }
  };
  for (let i = 0; i < n; i++) {
    const before = equity;
    if (pos !== 0) {
      // Mark to market from the previous close, checking the exit levels intrabar.
      const prev = bars.close[i - 1];
      const stop = entry * (1 - pos * stopLoss), target = entry * (1 + pos * takeProfit);
      const hitStop = pos > 0 ? bars.low[i] <= stop : bars.high[i] >= stop;
      const hitTarget = pos > 0 ? bars.high[i] >= target : bars.low[i] <= target;
      equity -= qty * prev * bars.funding[i]; // longs pay a positive rate
      if (hitStop || hitTarget) {
        // Stop first when both are touched (the pessimistic assumption); gaps fill at the open.
        const level = hitStop ? stop : target;
        const worse = pos > 0 ? Math.min : Math.max; // worse price for the position
        const better = pos > 0 ? Math.max : Math.min;
        const px = hitStop ? worse(bars.open[i], level) : better(bars.open[i], level);
        equity += qty * (px - prev);
        blocked = pos;
        fill(px, 0);
      } else {
        equity += qty * (bars.close[i] - prev);
      }
    }
    if (signal[i] !== blocked) blocked = null;
    const want = blocked === null ? signal[i] : 0;
    if (want !== pos) fill(bars.close[i], want);
    returns.push(equity / before - 1);
    peak = Math.max(peak, equity);
    maxDrawdown = Math.max(maxDrawdown, 1 - equity / peak);
  }
  return { returns, totalReturn: equity - 1, maxDrawdown, trades };
}

/** Annualized Sharpe ratio of hourly returns (risk-free rate 0); 0 when flat. */
function sharpe(returns) {
  const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
  const variance = returns.reduce((a, r) => a + (r - mean) ** 2, 0) / returns.length;
  return variance > 0 ? (mean / Math.sqrt(variance)) * Math.sqrt(HOURS_PER_YEAR) : 0;
}

/** The bars [from, to) of each column. */
function sliceBars(bars, from, to) {
  return Object.fromEntries(Object.entries(bars).map(([column, values]) => [column, values.subarray(from, to)]));
}

/** Bar indices [from, to) of a period: 'train' (the earlier bars), 'test' (the later ones) or 'all'. */
function periodRange(period, n) {
  const split = Math.round(n * SPLIT);
  if (period === 'train') return [0, split];
  if (period === 'test') return [split, n];
  if (period === 'all') return [0, n];
  throw new Error(`unknown period "${period}": use train, test or all`);
}

/**
 * Backtest of one period. The signals are computed on the whole history (they only look back, so
 * the test period's first signals see the training bars, as they would live), and the account
 * starts flat at the period's first bar.
 */
function run(params, bars = loadBars(), period = 'all') {
  const [from, to] = periodRange(period, bars.close.length);
  const r = simulate(sliceBars(bars, from, to), signals(bars, params).slice(from, to), params);
  return { sharpe: sharpe(r.returns), totalReturn: r.totalReturn, maxDrawdown: r.maxDrawdown, trades: r.trades };
}

module.exports = { loadBars, sma, signals, simulate, sharpe, run, periodRange, FEE };

if (require.main === module) {
  const at = process.argv.indexOf('--period');
  const r = run(require('./strategy.js'), loadBars(), at > 0 ? process.argv[at + 1] : 'train');
  const round = (x) => Number(x.toFixed(6));
  console.log(JSON.stringify({ sharpe: round(r.sharpe), totalReturn: round(r.totalReturn),
    maxDrawdown: round(r.maxDrawdown), trades: r.trades }));
}

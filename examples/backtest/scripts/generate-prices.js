#!/usr/bin/env node
// Generates data/btc-perp.csv: synthetic hourly bars of a BTC perpetual future.
// Seeded and deterministic: running it again writes the same file byte for byte.
// Usage: node scripts/generate-prices.js [bars] [seed]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const BARS = Number(process.argv[2] ?? 3000);
const SEED = Number(process.argv[3] ?? 3);
const START = Date.UTC(2024, 0, 1) / 1000; // unix seconds, first bar open
const SUBSTEPS = 6; // intrabar steps used to draw high and low

// mulberry32: a tiny seeded PRNG returning floats in [0, 1).
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
// Standard normal by Box-Muller.
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

// Regimes: hourly volatility, hourly drift magnitude, mean length in bars.
const REGIMES = {
  calm: { vol: 0.0035, drift: 0, meanLen: 240 },
  trending: { vol: 0.006, drift: 0.0005, meanLen: 300 },
  volatile: { vol: 0.014, drift: 0, meanLen: 120 },
};
const NAMES = Object.keys(REGIMES);

let regime = 'calm';
let left = 0; // bars left in the current regime
let drift = 0;
let price = 42000;
let funding = 0.0000125; // hourly rate (0.01% per 8 hours)
const rows = ['time,open,high,low,close,volume,funding'];

for (let i = 0; i < BARS; i++) {
  if (left <= 0) {
    regime = NAMES[Math.floor(rand() * NAMES.length)];
    const r = REGIMES[regime];
    left = Math.max(24, Math.round(-Math.log(1 - rand()) * r.meanLen));
    drift = r.drift * (rand() < 0.5 ? -1 : 1);
  }
  left--;
  const { vol } = REGIMES[regime];
  const open = price;
  let high = open;
  let low = open;
  // Geometric returns in small steps; the bar's close is the last step.
  for (let s = 0; s < SUBSTEPS; s++) {
    const ret = drift / SUBSTEPS + (vol / Math.sqrt(SUBSTEPS)) * gauss();
    price *= Math.exp(ret);
    high = Math.max(high, price);
    low = Math.min(low, price);
  }
  // Funding follows the trend (longs pay in up-trends), mean-reverting, with noise.
  funding += 0.05 * (0.0000125 + drift * 0.02 - funding) + 0.000002 * gauss();
  const volume = Math.round(800 * (vol / 0.005) * Math.exp(0.4 * gauss()));
  rows.push([START + i * 3600, open.toFixed(1), high.toFixed(1), low.toFixed(1),
    price.toFixed(1), volume, funding.toFixed(7)].join(','));
}

const out = path.join(__dirname, '..', 'data', 'btc-perp.csv');
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, rows.join('\n') + '\n');
console.log(`wrote ${BARS} bars to ${path.relative(process.cwd(), out)}`);

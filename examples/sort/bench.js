#!/usr/bin/env node
// Benchmark for the CPU-time metric: sorts seeded pseudo-random arrays.
// Prints a checksum so a wrong sort is visible; the metric is the process tree's CPU time.
'use strict';
const { sort } = require('./sort.js');

const N = 200_000; // numbers per array
const REPS = 3; // arrays sorted per run

// mulberry32: a tiny seeded PRNG, so every run sorts the same data.
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

let checksum = 0;
for (let r = 0; r < REPS; r++) {
  const rand = mulberry32(r + 1);
  const a = new Array(N);
  for (let i = 0; i < N; i++) a[i] = Math.floor(rand() * 1e9);
  sort(a);
  for (let i = 0; i < N; i += 1000) checksum = (checksum * 31 + a[i]) % 1e9;
}
console.log(`checksum=${checksum}`);

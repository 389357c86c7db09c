// Hybrid merge sort: split in halves, merge the sorted halves, and hand short
// runs to insertion sort. THRESHOLD is the cut-over length; the tuner may change it.
'use strict';

const THRESHOLD = 2; // rsi: int 2..64

/** Sorts a short array in place by insertion and returns it. */
function insertionSort(a) {
  for (let i = 1; i < a.length; i++) {
    const x = a[i];
    let j = i - 1;
    while (j >= 0 && a[j] > x) { a[j + 1] = a[j]; j--; }
    a[j + 1] = x;
  }
  return a;
}

/** Returns a sorted copy of `a` (a itself when short). Stable. */
function mergeSort(a) {
  if (a.length <= THRESHOLD) return insertionSort(a);
  const mid = a.length >>> 1;
  const left = mergeSort(a.slice(0, mid));
  const right = mergeSort(a.slice(mid));
  const out = new Array(a.length);
  let i = 0, j = 0, k = 0;
  while (i < left.length && j < right.length) out[k++] = right[j] < left[i] ? right[j++] : left[i++];
  while (i < left.length) out[k++] = left[i++];
  while (j < right.length) out[k++] = right[j++];
  return out;
}

/** Sorts an array of numbers ascending, in place, and returns it. */
function sort(a) {
  const sorted = mergeSort(a);
  for (let i = 0; i < a.length; i++) a[i] = sorted[i];
  return a;
}

module.exports = { sort, THRESHOLD };

// Tiny test harness for code that runs inside the VS Code extension host (CommonJS, no deps).
// Tests run one after another; each prints `ok - name` or `not ok - name: error`, then the line
// `N passed, N failed`, which CI reads as the test count. Rejects if any failed, which makes
// the host exit 1.
const DEFAULT_TIMEOUT_MS = 30000;

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** @param {{ name: string, fn: () => unknown, timeoutMs?: number }[]} tests */
async function runTests(tests) {
  let passed = 0;
  let failed = 0;
  for (const { name, fn, timeoutMs = DEFAULT_TIMEOUT_MS } of tests) {
    try {
      await withTimeout(Promise.resolve().then(fn), timeoutMs);
      passed++;
      console.log(`ok - ${name}`);
    } catch (err) {
      failed++;
      console.log(`not ok - ${name}: ${(err && err.message) || err}`);
      if (err && err.stack) console.log(err.stack.replace(/^/gm, '  # '));
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  if (failed) throw new Error(`${failed} of ${passed + failed} tests failed`);
}

module.exports = { runTests };

export interface Test {
  name: string;
  fn: () => unknown;
  timeoutMs?: number;
}

/** Runs the tests one after another and prints `N passed, N failed`; rejects when any failed. */
export function runTests(tests: Test[]): Promise<void>;

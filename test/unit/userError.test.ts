import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/config';
import { EngineStop } from '../../src/core/cycle';
import { ProposerError } from '../../src/core/proposers/errors';
import { CancelledError } from '../../src/runner/client';
import { isUserError } from '../../src/vscode/userError';

test("the engine's user errors are told from the program's by class name", () => {
  assert.equal(isUserError(new ConfigError('c.json', [{ field: 'metric', message: 'missing' }])), true);
  assert.equal(isUserError(new EngineStop('the gate fails')), true);
  assert.equal(isUserError(new ProposerError('not available')), true);
  assert.equal(isUserError(new CancelledError()), false);
  assert.equal(isUserError(new TypeError('x is undefined')), false);
});

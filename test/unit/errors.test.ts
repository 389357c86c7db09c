import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/core/config';
import { EngineStop } from '../../src/core/cycle';
import { ProposerError } from '../../src/core/proposers/errors';
import { CancelledError, errorKind, fromWire, toWire, UserError, userMessage } from '../../src/protocol/errors';

test("the engine's user errors, cancellation and the program's errors each have their kind", () => {
  assert.equal(errorKind(new ConfigError('c.json', [{ field: 'metric', message: 'missing' }])), 'user');
  assert.equal(errorKind(new EngineStop('the gate fails')), 'user');
  assert.equal(errorKind(new ProposerError('not available')), 'user');
  assert.equal(errorKind(new CancelledError()), 'cancelled');
  assert.equal(errorKind(new TypeError('x is undefined')), 'program');
  assert.equal(errorKind(undefined), 'program');
});

test('a kind survives the wire; a program error keeps its stack for the log, a user error has none', () => {
  const user = fromWire(JSON.parse(JSON.stringify(toWire(new UserError('metric.command exited with code 127')))));
  assert.equal(errorKind(user), 'user');
  assert.equal(user.message, 'metric.command exited with code 127');
  assert.equal(errorKind(fromWire(toWire(new CancelledError()))), 'cancelled');
  const bug = new TypeError('cannot read properties of undefined');
  const wire = toWire(bug);
  assert.equal(wire.kind, 'program');
  assert.equal(fromWire(wire).stack, bug.stack);
  assert.equal(toWire(new UserError('x')).stack, undefined);
});

test('a full disk or a permission problem is the user\'s, in one sentence naming the file', () => {
  const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', path: '/tmp/s/a.js' });
  assert.equal(errorKind(full), 'user');
  assert.equal(userMessage(full), 'the disk is full (writing /tmp/s/a.js): free some space and run again');
  assert.equal(fromWire(toWire(full)).message, userMessage(full));
  const denied = Object.assign(new Error('EACCES'), { code: 'EACCES', path: 'w/secret.js' });
  assert.match(userMessage(denied), /^permission denied on w\/secret\.js/);
  assert.equal(errorKind(Object.assign(new Error('EBADF'), { code: 'EBADF' })), 'program');
});

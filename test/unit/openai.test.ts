import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateProposal } from '../../src/core/patch';
import { ProposerError } from '../../src/core/proposers/errors';
import { ANSWER_FORMAT } from '../../src/core/proposers/format';
import { createOpenAiProposer, MAX_ATTEMPTS, type OpenAiConfig, type OpenAiOptions } from '../../src/core/proposers/openai';
import type { ProposeContext } from '../../src/core/proposers/types';
import { proposeContext } from '../proposeContext';

const F = '```';
const PARAMS = 'const X = 1;\nmodule.exports = { X };\n';
const GOOD_DIFF = `Hypothesis: X = 6 is the optimum\n${F}diff\n--- a/params.js\n+++ b/params.js\n@@ -1,2 +1,2 @@\n-const X = 1;\n+const X = 6;\n module.exports = { X };\n${F}\n`;

interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Wait this long before answering. */
  delayMs?: number;
}

interface Request {
  headers: IncomingHttpHeaders;
  body: { model: string; messages: { role: string; content: string }[]; n?: number; max_tokens: number; temperature: number };
}

/** A chat-completions server on loopback; `reply` answers the Nth request (0-based). */
async function serve(reply: (index: number, request: Request) => Reply) {
  const requests: Request[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      const request: Request = { headers: req.headers, body: JSON.parse(data) };
      const r = reply(requests.length, request);
      requests.push(request);
      const send = () => {
        res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
        res.end(typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? {}));
      };
      if (r.delayMs) setTimeout(send, r.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function chat(...answers: string[]): Reply {
  return { body: { choices: answers.map((content, index) => ({ index, message: { role: 'assistant', content }, finish_reason: 'stop' })) } };
}

function config(baseUrl: string, overrides: Partial<OpenAiConfig> = {}): OpenAiConfig {
  return { kind: 'openai', baseUrl, model: 'test-model', temperature: 0.2, maxTokens: 1000, timeoutMs: 5000, samples: 1, ...overrides };
}

function context(overrides: Partial<ProposeContext> = {}) {
  return proposeContext({ 'params.js': PARAMS }, { count: 4, ...overrides });
}

async function propose(reply: (index: number, request: Request) => Reply, overrides: Partial<OpenAiConfig> = {}, options: OpenAiOptions = {}, ctx = context()) {
  const server = await serve(reply);
  try {
    const proposals = await createOpenAiProposer(config(server.baseUrl, overrides), { backoffMs: 5, ...options }).propose(ctx);
    return { proposals, requests: server.requests };
  } finally {
    await server.close();
  }
}

async function workspace(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-openai-'));
  await fs.writeFile(path.join(dir, 'params.js'), PARAMS);
  return dir;
}

function validate(dir: string, proposal: Parameters<typeof validateProposal>[0]) {
  return validateProposal(proposal, {
    workspace: dir,
    targets: ['*.js'],
    protected: [],
    readBase: async (rel) => fs.readFile(path.join(dir, rel), 'utf8').catch(() => null),
  });
}

test('a good diff: one valid candidate, from a request in the chat-completions shape', async () => {
  const { proposals, requests } = await propose(() => chat(GOOD_DIFF));
  assert.equal(proposals.length, 1);
  assert.equal(proposals[0]!.hypothesis, 'X = 6 is the optimum');
  const validation = await validate(await workspace(), proposals[0]!);
  assert.ok(validation.ok);
  assert.equal(validation.candidate.changes[0]!.after, 'const X = 6;\nmodule.exports = { X };\n');

  const [{ body, headers }] = requests as [Request];
  assert.equal(body.model, 'test-model');
  assert.equal(body.max_tokens, 1000);
  assert.equal(body.temperature, 0.2);
  assert.equal(body.n, undefined);
  assert.deepEqual(body.messages.map((m) => m.role), ['system', 'user']);
  assert.ok(body.messages[0]!.content.includes(ANSWER_FORMAT));
  assert.match(body.messages[0]!.content, /Propose 4 candidates/);
  assert.ok(body.messages[1]!.content.includes(PARAMS));
  assert.equal(headers.authorization, undefined);
});

test('SEARCH/REPLACE blocks, two candidates in one answer', async () => {
  const answer = ['Hypothesis: five', 'params.js', '<<<<<<< SEARCH', 'const X = 1;', '=======', 'const X = 5;', '>>>>>>> REPLACE', '',
    'Hypothesis: seven', 'params.js', '<<<<<<< SEARCH', 'const X = 1;', '=======', 'const X = 7;', '>>>>>>> REPLACE'].join('\n');
  const { proposals } = await propose(() => chat(answer));
  assert.deepEqual(proposals.map((p) => [p.hypothesis, p.edits[0]!.kind]), [['five', 'replace'], ['seven', 'replace']]);
  const dir = await workspace();
  for (const proposal of proposals) assert.ok((await validate(dir, proposal)).ok);
});

test('prose with no edit: an invalid proposal with the reason and the raw answer', async () => {
  const { proposals } = await propose(() => chat('Your code looks fine to me.'));
  assert.equal(proposals.length, 1);
  assert.equal(proposals[0]!.error, 'the answer contains no edit');
  assert.equal(proposals[0]!.raw, 'Your code looks fine to me.');
  const validation = await validate(await workspace(), proposals[0]!);
  assert.ok(!validation.ok && validation.reason === 'the answer contains no edit');
});

test('a patch touching a path outside the workspace is read, then refused by validation', async () => {
  const answer = `Hypothesis: escape\n${F}diff\n--- a/../outside.js\n+++ b/../outside.js\n@@ -1 +1 @@\n-x\n+y\n${F}`;
  const { proposals } = await propose(() => chat(answer));
  const validation = await validate(await workspace(), proposals[0]!);
  assert.ok(!validation.ok);
  assert.match(validation.reason, /"\.\.\/outside\.js" is outside the workspace/);
});

test('429 then success: retried with backoff; 5xx and Retry-After too; bounded attempts, then a clear error', async () => {
  const once = await propose((i) => (i === 0 ? { status: 429, body: { error: { message: 'slow down' } } } : chat(GOOD_DIFF)));
  assert.equal(once.requests.length, 2);
  assert.equal(once.proposals.length, 1);

  const ctx = context();
  const mixed = await propose((i) => [{ status: 503 }, { status: 429, headers: { 'retry-after': '0' } }, chat(GOOD_DIFF)][i]!, {}, {}, ctx);
  assert.equal(mixed.requests.length, 3);
  assert.ok(ctx.logs.some((l) => /HTTP 503; retrying in .* \(attempt 2 of 4\)/.test(l)), ctx.logs.join('\n'));

  let attempts = 0;
  await assert.rejects(
    propose(() => (attempts++, { status: 429, body: { error: { message: 'quota exceeded' } } })),
    (err: Error) => err instanceof ProposerError && /still answers HTTP 429 \(rate limited\) after 4 attempts.*quota exceeded/.test(err.message),
  );
  assert.equal(attempts, MAX_ATTEMPTS);
});

test('Retry-After is honoured', async () => {
  const started = Date.now();
  const { requests } = await propose((i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : chat(GOOD_DIFF)));
  assert.equal(requests.length, 2);
  assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms`);
});

test('a 401 names the environment variable and never shows the key, even when the server echoes it', async () => {
  const key = 'sk-test-0123456789-secret';
  process.env.RSI_TEST_KEY = key;
  const ctx = context();
  let seen: string | undefined;
  await assert.rejects(
    propose(
      (_, request) => ((seen = request.headers.authorization), { status: 401, body: { error: { message: `Incorrect API key provided: ${key}` } } }),
      { apiKeyEnv: 'RSI_TEST_KEY' },
      {},
      ctx,
    ),
    (err: Error) => {
      assert.ok(err instanceof ProposerError);
      assert.equal(err.message, 'the endpoint refused the key (HTTP 401): check the environment variable RSI_TEST_KEY');
      return true;
    },
  );
  assert.equal(seen, `Bearer ${key}`);
  assert.ok(!ctx.logs.join('\n').includes(key));
  delete process.env.RSI_TEST_KEY;
});

test('a key given by the editor is used instead of the variable, and named as such when refused', async () => {
  await assert.rejects(propose(() => ({ status: 403 }), { apiKeyEnv: 'RSI_UNSET_KEY' }, { apiKey: 'from-secret-storage' }), /refused the key \(HTTP 403\): check the API key stored in the editor/);
});

test('a missing key variable stops before any request', async () => {
  let requests = 0;
  await assert.rejects(propose(() => (requests++, chat(GOOD_DIFF)), { apiKeyEnv: 'RSI_UNSET_KEY' }), /the environment variable RSI_UNSET_KEY \(proposer\.apiKeyEnv\) is not set/);
  assert.equal(requests, 0);
});

test('a 404 says to check baseUrl and model', async () => {
  await assert.rejects(propose(() => ({ status: 404, body: { error: { message: 'model "test-model" not found' } } })), (err: Error) => {
    assert.match(err.message, /^no such model or endpoint \(HTTP 404 at http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions\): check proposer\.baseUrl \(usually ending in \/v1\) and proposer\.model \("test-model"\): model "test-model" not found$/);
    return true;
  });
});

test('a response slower than the timeout stops with the timeout named', async () => {
  const started = Date.now();
  await assert.rejects(propose(() => ({ ...chat(GOOD_DIFF), delayMs: 5000 }), { timeoutMs: 300 }), /^ProposerError: no answer within 300 ms from http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions/);
  assert.ok(Date.now() - started < 3000);
});

test('connection refused: nothing listens at the base URL', async () => {
  const server = await serve(() => chat(GOOD_DIFF));
  await server.close(); // the port is now closed
  await assert.rejects(createOpenAiProposer(config(server.baseUrl)).propose(context()), (err: Error) => {
    assert.ok(err instanceof ProposerError);
    assert.equal(err.message, `nothing listens at ${server.baseUrl}: is the server (e.g. Ollama, LM Studio) running?`);
    return true;
  });
});

test('samples: n is asked for, and a server that ignores it is asked again one by one', async () => {
  const ctx = context({ count: 3 });
  const { proposals, requests } = await propose(() => chat(GOOD_DIFF), { samples: 3 }, {}, ctx);
  assert.deepEqual(requests.map((r) => r.body.n), [3, undefined, undefined]);
  assert.equal(proposals.length, 3);
  assert.match(requests[0]!.body.messages[0]!.content, /Propose 1 candidate\./);
  assert.ok(ctx.logs.some((l) => /returned 1 of 3 completions \(it ignores n\)/.test(l)));

  const honoured = await propose(() => chat(GOOD_DIFF, 'no edit here'), { samples: 2 });
  assert.equal(honoured.requests.length, 1);
  assert.deepEqual(honoured.proposals.map((p) => p.error), [undefined, 'the answer contains no edit']);
});

test('an answer cut at maxTokens says so in the invalid lesson', async () => {
  const { proposals } = await propose(() => ({ body: { choices: [{ message: { content: `Hypothesis: h\n${F}js path=params.js\nconst X` }, finish_reason: 'length' }] } }));
  assert.match(proposals[0]!.error!, /never closed[\s\S]*stopped at proposer\.maxTokens \(1000\)/);
});

test('an endpoint that is not chat-completions gets a message about the base URL', async () => {
  await assert.rejects(propose(() => ({ body: '<html>hello</html>' })), /is not JSON \("<html>hello<\/html>"\): is proposer\.baseUrl an OpenAI-compatible API/);
});

test('cancelling during a request rejects at once as a cancel', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = Date.now();
  await assert.rejects(propose(() => ({ ...chat(GOOD_DIFF), delayMs: 5000 }), {}, {}, context({ signal: controller.signal })), (err: Error) => {
    assert.ok(!(err instanceof ProposerError));
    assert.equal(err.name, 'AbortError');
    return true;
  });
  assert.ok(Date.now() - started < 2000);
});

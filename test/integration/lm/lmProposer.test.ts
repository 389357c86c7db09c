// The lm proposer end to end: a scripted chat model (test/integration/fixtures/scripted-model)
// answers RSI Loop's requests through VS Code's Language Model API, and each test checks what the
// extension makes of an answer: kept lessons shown inline, invalid lessons, refusals, a stop while
// streaming, the prompt itself, and the rsi_runCycle chat tool.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { RunSummary } from '../../../src/core/cycle';
import type { RunRefusal } from '../../../src/vscode/controller';
import type { Lesson } from '../../../src/core/lessons';
import { candidateRequest, ROLE } from '../../../src/core/proposers/format';
import { formatEvidence } from '../../../src/vscode/inlineDiff/evidence';
import type { Test } from '../host/harness';
import { lessonRecords, ran, refusal, rsiApi, waitFor, workspaceFile, workspaceFolder } from '../suite/helpers';

type Answer = { text: string; thenWait?: boolean } | { error: 'NoPermissions' | 'Blocked' | 'NotFound'; message: string };

/** What the fixture extension's activate() returns. */
interface ScriptedModel {
  model: { id: string; name: string; family: string };
  script(...answers: Answer[]): void;
  requests: Array<{ model: string; prompt: string; streaming: boolean; cancelled: boolean }>;
  logUri: vscode.Uri;
}

async function scriptedModel(): Promise<ScriptedModel> {
  const extension = vscode.extensions.getExtension<ScriptedModel>('rsi-test.scripted-model');
  assert.ok(extension, 'the fixture extension rsi-test.scripted-model is not loaded');
  return extension.activate();
}

/** Asks the model once through rsi.runCycle, with `answer` scripted; resolves to the summary and the request the model got. */
async function cycleAnswering(answer: Answer) {
  const model = await scriptedModel();
  const asked = model.requests.length;
  const before = await lessonRecords();
  model.script(answer);
  const result = await vscode.commands.executeCommand<RunSummary | RunRefusal | undefined>('rsi.runCycle');
  assert.equal(model.requests.length, asked + 1, 'one request per cycle');
  const appended = (await lessonRecords()).slice(before.length) as Lesson[];
  return { result, request: model.requests[asked], appended };
}

const settings = () => vscode.workspace.getConfiguration('rsi', workspaceFolder().uri);

/** The model as the lessons name it. */
const PROPOSER = 'lm:rsi-test/scripted';

const SORT_FIRST = `Hypothesis: packing the smallest items first fits more of them
\`\`\`diff
--- a/solver.js
+++ b/solver.js
@@ -5,7 +5,7 @@
 function packed() {
   let used = 0;
   let count = 0;
-  for (const size of ITEMS) {
+  for (const size of [...ITEMS].sort((a, b) => a - b)) {
     if (used + size <= BUDGET) {
       used += size;
       count++;
\`\`\`

Hypothesis: a smaller budget leaves room for the small items
solver.js
<<<<<<< SEARCH
const BUDGET = 10;
=======
const BUDGET = 2;
>>>>>>> REPLACE
`;

/** The RSI output channel's file: a sibling of the fixture's log folder. */
async function rsiLog(): Promise<string> {
  const { logUri } = await scriptedModel();
  const file = path.join(path.dirname(logUri.fsPath), 'rsi-loop.rsi-loop', 'RSI.log');
  return fs.readFile(file, 'utf8').catch(() => '');
}

export const tests: Test[] = [
  {
    name: 'lm: the scripted model is offered through vscode.lm',
    async fn() {
      const [model, ...others] = await vscode.lm.selectChatModels({ vendor: 'rsi-test' });
      assert.equal(others.length, 0);
      assert.equal(model?.id, 'scripted');
    },
  },
  {
    name: "lm: a model's improvement is kept and shown inline with its evidence; the model is named in the lesson and the log",
    timeoutMs: 120_000,
    async fn() {
      const { result, appended } = await cycleAnswering({ text: SORT_FIRST });
      const summary = ran(result);
      assert.deepEqual(appended.map((l) => [l.outcome, l.hypothesis]), [
        ['kept', 'packing the smallest items first fits more of them'],
        ['regressed', 'a smaller budget leaves room for the small items'],
      ]);
      assert.deepEqual(appended.map((l) => l.proposer), [PROPOSER, PROPOSER]);
      const [kept] = appended;
      assert.equal(kept.metric?.change, 1, 'packed goes from 2 to 4');
      assert.deepEqual(summary.proposal?.lessons, [kept.id]);

      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', workspaceFile('solver.js'));
      const titles = lenses.map((l) => l.command?.title);
      assert.ok(titles.includes(`Accept (${formatEvidence(kept.metric!)})`), `no Accept lens with the evidence: ${titles.join(' | ')}`);
      assert.match(formatEvidence(kept.metric!), /^\+100\.0%/);

      await waitFor(async () => (await rsiLog()).includes('asking Scripted Model (vendor rsi-test, family scripted-family, id scripted)'), 10_000, 'the model in the RSI log');
      await vscode.commands.executeCommand('rsi.rejectProposal');
    },
  },
  {
    name: 'lm: a garbage answer and an answer with no edit become invalid lessons keeping the raw answer',
    timeoutMs: 120_000,
    async fn() {
      const garbage = '}}}{{{ 502 <html><body>Bad gateway</body></html>';
      const noEdit = 'Hypothesis: packing the largest items last fits more\nI would reverse the loop so the big items come at the end.';
      for (const [answer, why] of [[garbage, /the answer contains no edit/], [noEdit, /no edit follows it/]] as const) {
        const { result, appended } = await cycleAnswering({ text: answer });
        const summary = ran(result);
        assert.equal(appended.length, 1);
        const [lesson] = appended;
        assert.equal(lesson.outcome, 'invalid');
        assert.equal(lesson.proposer, PROPOSER);
        assert.match(lesson.detail ?? '', why);
        assert.ok(lesson.detail?.includes(answer), `the raw answer is not in the lesson: ${lesson.detail}`);
        assert.equal(summary.proposal, undefined);
      }
    },
  },
  {
    name: "lm: each of the model's refusals is one clear sentence and no lesson",
    timeoutMs: 120_000,
    async fn() {
      const expected = {
        NoPermissions: /^RSI: RSI Loop may not use the language model Scripted Model \(rsi-test\/scripted\) \(.*not yours.*\): allow it when VS Code asks/,
        Blocked: /^RSI: the language model Scripted Model \(rsi-test\/scripted\) refused the request \(.*quota.*\), often a quota or rate limit: try again later/,
        NotFound: /^RSI: the language model Scripted Model \(rsi-test\/scripted\) is not available anymore \(.*retired.*\): check that the extension providing it is installed/,
      };
      const messages = { NoPermissions: 'this model is not yours', Blocked: 'quota exceeded', NotFound: 'the model was retired' };
      for (const error of ['NoPermissions', 'Blocked', 'NotFound'] as const) {
        const { result, appended } = await cycleAnswering({ error, message: messages[error] });
        assert.deepEqual(appended, [], `${error}: a refusal is no lesson`);
        const message = refusal(result);
        assert.match(message, expected[error]);
        assert.match(message, /"vendor" and "family" of "proposer" in \.rsi\/config\.json$/);
        assert.ok(!message.includes('\n'), `${error}: more than one line: ${message}`);
      }
    },
  },
  {
    name: 'lm: RSI: Stop during a streaming answer cancels the request and ends the run',
    timeoutMs: 120_000,
    async fn() {
      const rsi = await rsiApi();
      const model = await scriptedModel();
      const asked = model.requests.length;
      const before = await lessonRecords();
      model.script({ text: 'Hypothesis: packing the smallest items first\n```diff\n--- a/solver.js\n', thenWait: true });
      const running = vscode.commands.executeCommand<RunSummary | RunRefusal | undefined>('rsi.runCycle');
      await waitFor(() => model.requests[asked]?.streaming === true, 60_000, 'the model to start streaming');
      assert.equal(model.requests[asked].cancelled, false);
      await vscode.commands.executeCommand('rsi.stop');
      const summary = ran(await running);
      assert.equal(summary.cancelled, true);
      assert.equal(model.requests[asked].cancelled, true, 'the provider did not see the cancellation');
      assert.equal(rsi.controller.running, false);
      assert.deepEqual((await lessonRecords()).slice(before.length), [], 'half an answer is no lesson');
    },
  },
  {
    name: 'lm: the prompt the model receives is what `rsi context` prints, after the role and the request',
    timeoutMs: 120_000,
    async fn() {
      const rsi = vscode.extensions.getExtension('rsi-loop.rsi-loop')!;
      const storage = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-context-'));
      try {
        const { stdout: printed } = await promisify(execFile)(
          process.execPath,
          [path.join(rsi.extensionPath, 'dist', 'cli.js'), 'context', '--workspace', workspaceFolder().uri.fsPath],
          { env: { ...process.env, RSI_SANDBOX_ROOT: storage } },
        );
        assert.match(printed, /^## Goal\n/);
        assert.match(printed, /^Current baseline: 2\.$/m, 'the latest measured lesson has the baseline');
        // The same sandbox root, so the cycle reads the CPU profile rsi context took (cached per
        // baseline) instead of taking one of its own, whose timings would differ.
        await settings().update('sandboxRoot', storage, vscode.ConfigurationTarget.Workspace);
        const { request } = await cycleAnswering({ text: 'Hypothesis: nothing to change\nThe code is fine as it is.' });
        const config = JSON.parse(await fs.readFile(workspaceFile('.rsi', 'config.json').fsPath, 'utf8'));
        assert.equal(request.prompt, `${ROLE}\n\n${candidateRequest(config.candidates)}\n\n${printed}`);
      } finally {
        await settings().update('sandboxRoot', undefined, vscode.ConfigurationTarget.Workspace);
        await fs.rm(storage, { recursive: true, force: true });
      }
    },
  },
  {
    name: 'lm: the rsi_runCycle chat tool returns the outcomes and the pending diff',
    timeoutMs: 120_000,
    async fn() {
      const model = await scriptedModel();
      const solver = await fs.readFile(workspaceFile('solver.js').fsPath, 'utf8');
      const smallOnly = solver.replace('for (const size of ITEMS)', 'for (const size of ITEMS.filter((size) => size < 5))');
      model.script({ text: `Hypothesis: leaving out the large items fits more of the small ones\n\`\`\`js path=solver.js\n${smallOnly}\`\`\`\n` });
      // The editor asks the user before the tool runs; in an extension test run it answers yes itself.
      const result = await vscode.lm.invokeTool('rsi_runCycle', { input: {}, toolInvocationToken: undefined });
      const text = result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
      assert.match(text, /^Metric packed \(maximize\)\.\n- leaving out the large items fits more of the small ones: kept: \+100\.00% packed /);
      assert.match(text, /\nPending proposal \(shown in the editor to accept or reject\):\n--- a\/solver\.js\n\+\+\+ b\/solver\.js\n/);
      assert.ok(text.includes('+  for (const size of ITEMS.filter((size) => size < 5)) {'), text);
      await vscode.commands.executeCommand('rsi.rejectProposal');
    },
  },
];

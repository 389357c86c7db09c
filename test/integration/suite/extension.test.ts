// The extension in a real VS Code, on a temp copy of examples/backtest: activation, a cycle through
// the command, what the status bar, lessons tree and report show of it, verdicts, errors, stop.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import type { Calibration } from '../../../src/core/calibration';
import type { RunSummary } from '../../../src/core/cycle';
import type { Lesson, Verdict } from '../../../src/core/lessons';
import type { RunRefusal } from '../../../src/vscode/controller';
import type { LessonNode } from '../../../src/vscode/lessonsTree';
import { untrustedRefusal } from '../../../src/vscode/trust';
import type { Test } from '../host/harness';
import { lessonRecords, ran, refusal, rsiApi, runnerChildren, waitFor, workspaceFile, workspaceFolder } from './helpers';

/** The summary of the cycle run by the second test; later tests look at what it left behind. */
let cycle: RunSummary | undefined;

function firstCycle(): RunSummary {
  assert.ok(cycle, 'the rsi.runCycle test did not produce a summary');
  return cycle;
}

/** The host's own marks around loading our main module (VS Code's extension host records them). */
function codeLoadingMs(): number | undefined {
  const marks: Array<{ name: string; startTime: number }> = (globalThis as any).MonacoPerformanceMarks?.getMarks?.() ?? [];
  const at = (name: string) => marks.find((m) => m.name === `code/extHost/${name}/rsi-loop.rsi-loop`)?.startTime;
  const [will, did] = [at('willLoadExtensionCode'), at('didLoadExtensionCode')];
  return will !== undefined && did !== undefined ? did - will : undefined;
}

/** Every lesson in the tree with the label of the group it is in (failures are one level deeper). */
async function treeLessons(): Promise<Array<{ group: string; lesson: Lesson }>> {
  const rsi = await rsiApi();
  const found: Array<{ group: string; lesson: Lesson }> = [];
  const walk = async (parent?: LessonNode): Promise<void> => {
    for (const node of await rsi.lessonsTree.getChildren(parent)) {
      if (node.kind === 'lesson') found.push({ group: String(rsi.lessonsTree.getTreeItem(parent!).label), lesson: node.lesson });
      else await walk(node);
    }
  };
  await walk();
  return found;
}

export const tests: Test[] = [
  {
    name: 'activation starts no runner and loads no engine',
    async fn() {
      const rsi = await rsiApi();
      assert.deepEqual(rsi.controller.runnerPids, []);
      assert.deepEqual(runnerChildren(), []);
      const engineLoaded = Object.keys(require.cache).some((file) => file.endsWith('dist/engine.js'));
      assert.equal(engineLoaded, false, 'dist/engine.js was required at activation');
      const loading = codeLoadingMs();
      console.log(`  # activation: loading dist/extension.js ${loading?.toFixed(1) ?? '(no host mark)'} ms, activate() ${rsi.activateMs.toFixed(1)} ms`);
    },
  },
  {
    name: 'rsi.runCycle resolves to the summary and appends its lessons',
    timeoutMs: 180_000,
    async fn() {
      const rsi = await rsiApi();
      const before = await lessonRecords();
      const started = performance.now();
      cycle = ran(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle'));
      const wallMs = performance.now() - started;
      console.log(`  # rsi.runCycle on examples/backtest: ${wallMs.toFixed(0)} ms wall (engine ${cycle.durationMs} ms)`);
      assert.equal(cycle.cycles.length, 1);
      const lessons = cycle.cycles[0].lessons;
      assert.ok(lessons.length > 0, 'the cycle recorded no lesson');
      const appended = (await lessonRecords()).slice(before.length);
      // Recorded as decided: candidates evaluated side by side may end in any order.
      assert.deepEqual(appended.map((r) => (r as Lesson).id).sort(), lessons.map((l) => l.id).sort());
      const pids = rsi.controller.runnerPids;
      assert.ok(pids.length >= 1 && pids.length <= Math.min(os.availableParallelism(), lessons.length), `a runner a slot the cycle used, started by it (${pids.length})`);
      assert.deepEqual(runnerChildren().sort(), [...pids].sort());
      assert.equal(rsi.controller.running, false);
    },
  },
  {
    name: 'the status bar shows the last result with its details',
    async fn() {
      const rsi = await rsiApi();
      const summary = firstCycle();
      const expected = summary.proposal ? /^\$\(pass\) RSI: sharpe [+-]\d/ : /^\$\(circle-slash\) RSI: no gain$/;
      assert.match(rsi.statusBar.text, expected);
      assert.match(rsi.statusBar.tooltip, /1 cycle in \d+\.\d s/);
      assert.match(rsi.statusBar.tooltip, /sharpe \(maximize\)/);
      assert.match(rsi.statusBar.tooltip, /Candidates: \d+ \w+/);
    },
  },
  {
    name: "the lessons tree holds the cycle's lessons, grouped by outcome",
    async fn() {
      const lessons = firstCycle().cycles[0].lessons;
      const shown = await treeLessons();
      assert.deepEqual(shown.map((s) => s.lesson.id).sort(), lessons.map((l) => l.id).sort());
      for (const { group, lesson } of shown) {
        const expected = lesson.outcome === 'kept' ? 'Kept, no verdict yet' : lesson.outcome === 'no-effect' ? 'No effect' : undefined;
        if (expected) assert.equal(group, expected, `${lesson.outcome} lesson in group "${group}"`);
      }
    },
  },
  {
    name: 'the winner is shown as a proposal in the editor',
    async fn() {
      const rsi = await rsiApi();
      const proposal = firstCycle().proposal;
      assert.ok(proposal, 'examples/backtest keeps a winner in its first cycle');
      assert.ok(rsi.controller.proposal, 'no proposal session');
      assert.ok(rsi.controller.proposal.pending > 0);
      const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', workspaceFile('strategy.js'));
      assert.ok(lenses.some((l) => l.command?.title.startsWith('Accept')), 'no Accept lens on strategy.js');
    },
  },
  {
    name: 'rsi.rejectProposal keeps the file byte for byte and records a verdict per winner',
    async fn() {
      const rsi = await rsiApi();
      const proposal = firstCycle().proposal!;
      const file = workspaceFile('strategy.js');
      const original = await vscode.workspace.fs.readFile(file);
      await vscode.commands.executeCommand('rsi.rejectProposal');
      assert.deepEqual(await vscode.workspace.fs.readFile(file), original);
      assert.equal(rsi.controller.proposal, undefined, 'the session ends when every hunk is decided');
      const verdicts = (await lessonRecords()).filter((r): r is Verdict => r.type === 'verdict');
      for (const id of proposal.lessons) {
        assert.ok(verdicts.some((v) => v.lesson === id && v.verdict === 'rejected'), `no rejected verdict for ${id}`);
      }
      const rejected = (await treeLessons()).filter((s) => s.group === 'Rejected by you');
      assert.deepEqual(rejected.map((s) => s.lesson.id).sort(), [...proposal.lessons].sort());
    },
  },
  {
    name: 'selecting a lesson opens its patch in a diff editor',
    async fn() {
      const lesson = (await lessonRecords()).find((r): r is Lesson => r.type !== 'verdict' && r.patch !== '');
      assert.ok(lesson, 'no lesson with a patch');
      await vscode.commands.executeCommand('rsi.openLesson', workspaceFolder().uri, lesson.id);
      const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      assert.ok(input instanceof vscode.TabInputTextDiff, 'the active tab is not a diff');
      assert.equal(input.modified.scheme, 'rsi-lesson');
      const [before, after] = await Promise.all([input.original, input.modified].map((uri) => vscode.workspace.openTextDocument(uri)));
      assert.notEqual(before.getText(), after.getText());
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    },
  },
  {
    name: 'the report charts the history and counts the outcomes, with no script',
    async fn() {
      const rsi = await rsiApi();
      await vscode.commands.executeCommand('rsi.showReport');
      const html = rsi.report.html ?? '';
      assert.match(html, /<svg [^>]*aria-label="sharpe across cycles"/);
      assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'nonce-/);
      assert.doesNotMatch(html, /<script/i);
      assert.match(html, /Rejected by you<\/td><td class="num">\d+</);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    },
  },
  {
    name: 'lessons appended outside the editor (the CLI) show up in the tree',
    async fn() {
      const rsi = await rsiApi();
      const template = (await lessonRecords()).find((r): r is Lesson => r.type !== 'verdict');
      assert.ok(template, 'no lesson on disk');
      const outside: Lesson = { ...template, id: 'appended-by-the-cli', hypothesis: 'appended by the CLI', time: new Date().toISOString() };
      const refreshed = new Promise<void>((resolve) => {
        const listener = rsi.lessonsTree.onDidChangeTreeData(() => {
          listener.dispose();
          resolve();
        });
      });
      // Appended through node's fs as the CLI does: no editor API that could tell the extension.
      await fs.appendFile(workspaceFile('.rsi', 'lessons.jsonl').fsPath, JSON.stringify(outside) + '\n');
      await refreshed;
      assert.ok((await treeLessons()).some((s) => s.lesson.id === outside.id));
    },
  },
  {
    name: 'a broken config gives a clear error naming the field',
    timeoutMs: 60_000,
    async fn() {
      const rsi = await rsiApi();
      const config = workspaceFile('.rsi', 'config.json');
      const original = await vscode.workspace.fs.readFile(config);
      const broken = JSON.parse(new TextDecoder().decode(original));
      broken.metric.direction = 'upward';
      await vscode.workspace.fs.writeFile(config, new TextEncoder().encode(JSON.stringify(broken)));
      try {
        const error = refusal(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle'));
        assert.match(error, /config\.json: metric\.direction: must be one of "maximize", "minimize"/);
        assert.match(rsi.statusBar.text, /^\$\(error\) RSI$/);
        assert.match(rsi.statusBar.tooltip, /metric\.direction/);
      } finally {
        await vscode.workspace.fs.writeFile(config, original);
      }
    },
  },
  {
    name: 'the lm proposer with no language model says how to get one',
    timeoutMs: 60_000,
    async fn() {
      await rsiApi();
      const config = workspaceFile('.rsi', 'config.json');
      const original = await vscode.workspace.fs.readFile(config);
      const withLm = JSON.parse(new TextDecoder().decode(original));
      withLm.proposer = { kind: 'lm' };
      await vscode.workspace.fs.writeFile(config, new TextEncoder().encode(JSON.stringify(withLm)));
      try {
        assert.deepEqual(await vscode.lm.selectChatModels(), [], 'this host was expected to have no language model');
        const error = refusal(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle'));
        assert.match(error, /no language model is available: install and sign in to an extension that provides one/);
      } finally {
        await vscode.workspace.fs.writeFile(config, original);
      }
    },
  },
  {
    name: 'chat agents get the tools: rsi_lessons reads what the cycles tried',
    async fn() {
      const names = vscode.lm.tools.map((tool) => tool.name);
      assert.ok(names.includes('rsi_runCycle') && names.includes('rsi_lessons'), names.join(', '));
      const result = await vscode.lm.invokeTool('rsi_lessons', { input: { limit: 3 }, toolInvocationToken: undefined });
      const text = result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
      assert.match(text, /^Lessons of .*, newest first:\n- cycle \d+, tuner: /);
      assert.equal(text.split('\n- ').length - 1, 3);
    },
  },
  {
    name: 'rsi.openConfig opens the existing config',
    async fn() {
      await vscode.commands.executeCommand('rsi.openConfig');
      assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, workspaceFile('.rsi', 'config.json').fsPath);
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    },
  },
  {
    name: 'rsi.stop ends a continuous run, which resolves to a stopped summary',
    timeoutMs: 120_000,
    async fn() {
      const rsi = await rsiApi();
      const running = vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runContinuously');
      await waitFor(() => rsi.statusBar.text.includes('candidate'), 60_000, 'the first candidate');
      await vscode.commands.executeCommand('rsi.stop');
      const summary = ran(await running);
      assert.equal(summary.cancelled, true);
      assert.equal(rsi.controller.running, false);
      assert.match(rsi.statusBar.tooltip, /stopped by you/);
      await vscode.commands.executeCommand('rsi.rejectProposal'); // a winner kept before the stop, if any
    },
  },
  {
    name: 'rsi.calibrate resolves to the calibration: a deterministic metric has no noise floor',
    timeoutMs: 120_000,
    async fn() {
      const rsi = await rsiApi();
      const calibration = ran(await vscode.commands.executeCommand<Calibration | RunRefusal>('rsi.calibrate'));
      assert.equal(calibration.deterministic, true);
      assert.equal(calibration.floor, 0);
      assert.match(rsi.statusBar.text, /deterministic metric/);
      await vscode.workspace.fs.stat(workspaceFile('.rsi', 'calibration.json'));
    },
  },
  {
    name: 'an untrusted workspace refuses to run, saying why (the guard; trust is off in this host)',
    fn() {
      assert.equal(untrustedRefusal({ isTrusted: true }, 'Run Cycle'), undefined);
      const refusal = untrustedRefusal({ isTrusted: false }, 'Run Cycle') ?? '';
      assert.match(refusal, /Run Cycle is disabled because this workspace is not trusted/);
      assert.match(refusal, /runs the workspace's own commands/);
    },
  },
];

// What a new user meets in the first hour (issue 11), in the real editor: a folder with no config,
// a broken config fixed, a run refused while another goes, the evidence and hovers of a proposal of
// several winners, the lessons tree during a pending proposal, the diff tab after Accept All.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as vscode from 'vscode';
import type { PendingProposal, RunSummary } from '../../../src/core/cycle';
import type { Lesson, LessonMetric } from '../../../src/core/lessons';
import { unifiedDiff } from '../../../src/core/patch';
import type { RunRefusal } from '../../../src/vscode/controller';
import { proposalHeadline } from '../../../src/vscode/inlineDiff/evidence';
import { ProposalSession } from '../../../src/vscode/inlineDiff/session';
import type { LessonNode } from '../../../src/vscode/lessonsTree';
import type { Test } from '../host/harness';
import { ran, refusal, rsiApi, waitFor, workspaceFile, workspaceFolder } from './helpers';

const configFile = () => workspaceFile('.rsi', 'config.json');

/** Runs `body` with .rsi/config.json moved aside, then puts it back. */
async function withoutConfig(body: () => Promise<void>): Promise<void> {
  const original = await vscode.workspace.fs.readFile(configFile());
  await vscode.workspace.fs.delete(configFile());
  try {
    await body();
  } finally {
    await vscode.workspace.fs.writeFile(configFile(), original);
  }
}

async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Every lens on a file, the statement ones (no command) included. */
async function allLenses(uri: vscode.Uri): Promise<Array<{ title: string; line: number; command: string }>> {
  await vscode.workspace.openTextDocument(uri);
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
  return lenses.map((l) => ({ title: l.command?.title ?? '', line: l.range.start.line, command: l.command?.command ?? '' }));
}

function metric(baseline: number, candidate: number): LessonMetric {
  const change = (candidate - baseline) / baseline;
  return { name: 'sharpe', direction: 'maximize', baseline: { median: baseline, n: 1 }, candidate: { median: candidate, n: 1 }, change, ci: [change, change], p: 0 };
}

async function treeNodes(parent?: LessonNode): Promise<LessonNode[]> {
  return (await rsiApi()).lessonsTree.getChildren(parent);
}

export const tests: Test[] = [
  {
    name: 'first hour: Run Cycle with no config resolves at once to { error } naming the missing file (the offer stays open)',
    async fn() {
      await withoutConfig(async () => {
        const error = refusal(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle'));
        assert.match(error, /has no \.rsi\/config\.json/);
        assert.match(error, /RSI: Open Configuration creates one/);
      });
    },
  },
  {
    name: 'first hour: a config created for a folder with no package.json and no bench file makes up no command and says what to fill in',
    async fn() {
      await withoutConfig(async () => {
        await vscode.commands.executeCommand('rsi.openConfig');
        const created = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(configFile())));
        assert.equal(created.metric.command, '', 'no invented metric command');
        assert.doesNotMatch(JSON.stringify(created), /bench\.js/);
        assert.deepEqual(created.gate, [], 'no package.json: no npm test');
        assert.deepEqual(created.targets, ['**/*.js']);
        await closeAllEditors();
      });
    },
  },
  {
    name: 'first hour: a broken config leaves the status bar once it is fixed and saved',
    timeoutMs: 60_000,
    async fn() {
      const rsi = await rsiApi();
      const original = new TextDecoder().decode(await vscode.workspace.fs.readFile(configFile()));
      const broken = JSON.stringify({ ...JSON.parse(original), candidates: 'four' }, null, 2);
      // Edited as the user does, in the editor: its document may first have to catch up with the disk.
      const document = await vscode.workspace.openTextDocument(configFile());
      await waitFor(() => document.getText() === original, 10_000, 'the editor to read config.json from disk');
      const saveAs = async (text: string) => {
        const edit = new vscode.WorkspaceEdit();
        edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), text);
        assert.ok(await vscode.workspace.applyEdit(edit));
        assert.ok(await document.save());
      };
      try {
        await saveAs(broken);
        assert.match(refusal(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle')), /candidates/);
        assert.match(rsi.statusBar.text, /^\$\(error\) RSI$/);
        await saveAs(original);
        await waitFor(() => !rsi.statusBar.text.includes('$(error)'), 10_000, 'the status bar to drop the fixed error');
        assert.match(rsi.statusBar.tooltip, /config\.json is valid now/);
      } finally {
        await vscode.workspace.fs.writeFile(configFile(), new TextEncoder().encode(original));
        await closeAllEditors();
      }
    },
  },
  {
    name: 'first hour: a cycle while one runs is refused with { error }; the tree marks the pending lessons and folds the rest',
    timeoutMs: 240_000,
    async fn() {
      const rsi = await rsiApi();
      const running = vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle');
      await waitFor(() => rsi.controller.running, 30_000, 'the cycle to start');
      assert.match(refusal(await vscode.commands.executeCommand<RunSummary | RunRefusal>('rsi.runCycle')), /a run is already in progress/);
      const summary = ran(await running);
      const proposal = summary.proposal;
      assert.ok(proposal, 'examples/backtest keeps a winner in a cycle (none this time)');
      try {
        const winners = summary.cycles.flatMap((c) => c.winner ?? []).filter((l) => proposal.lessons.includes(l.id));
        // The whole proposal's measured change, once, at the top of its file.
        const lenses = await allLenses(workspaceFile('strategy.js'));
        assert.deepEqual(lenses.filter((l) => l.command === '').map((l) => [l.line, l.title]), [[0, proposalHeadline(winners)]]);

        const top = await treeNodes();
        const labels = top.map((node) => String(rsi.lessonsTree.getTreeItem(node).label));
        assert.equal(labels.at(-1), 'Tried, not kept', `top level: ${labels.join(', ')}`);
        assert.ok(!labels.includes('Regressed') && !labels.includes('No effect'), 'failures are folded under one node');
        const kept = top.find((node) => rsi.lessonsTree.getTreeItem(node).label === 'Kept, no verdict yet');
        assert.ok(kept, `no kept group: ${labels.join(', ')}`);
        const items = (await treeNodes(kept)).map((node) => ({ node, item: rsi.lessonsTree.getTreeItem(node) }));
        for (const { node, item } of items) {
          assert.ok(node.kind === 'lesson');
          const pending = proposal.lessons.includes(node.lesson.id);
          assert.equal(String(item.description).startsWith('pending in the editor'), pending, `${node.lesson.id}: ${item.description}`);
          // The label is the change (e.g. "slow 9 → 15"), not the tuner's long hypothesis.
          assert.match(String(item.label), /^[\w.]+ [\d.]+ → [\d.]+/);
          assert.notEqual(item.label, node.lesson.hypothesis);
        }
        assert.ok(items.some(({ node }) => node.kind === 'lesson' && proposal.lessons.includes(node.lesson.id)));
      } finally {
        await vscode.commands.executeCommand('rsi.rejectProposal');
        await closeAllEditors();
      }
      assert.deepEqual([...rsi.controller.pendingLessons], []);
    },
  },
  {
    name: 'first hour: a proposal of several winners states its whole change once; a hunk shows a number only if measured alone; one hover',
    async fn() {
      const file = workspaceFile('strategy.js');
      const original = await fs.readFile(file.fsPath, 'utf8');
      const steps = [
        original,
        original.replace('fast: 3,', 'fast: 4,').replace('stopLoss: 0.006,', 'stopLoss: 0.008,'),
      ];
      steps.push(steps[1].replace('fast: 4,', 'fast: 5,'));
      steps.push(steps[2].replace('size: 0.5,', 'size: 0.7,'));
      const medians = [1, 1.5, 2.5, 3.17];
      const winners: Lesson[] = ['both', 'fastAgain', 'size'].map((id, i) => {
        const changes = [{ path: 'strategy.js', before: steps[i], after: steps[i + 1] }];
        return {
          v: 1, id, time: new Date().toISOString(), cycle: i + 1, proposer: 'tuner', hypothesis: `${id} 0.5 -> 0.6202 (strategy.js): a step`,
          files: ['strategy.js'], patch: unifiedDiff(changes), patchHash: id, outcome: 'kept', metric: metric(medians[i], medians[i + 1]), durationMs: 1,
        };
      });
      const changes = [{ path: 'strategy.js', before: original, after: steps[3] }];
      const proposal: PendingProposal = { changes, patch: unifiedDiff(changes), lessons: winners.map((w) => w.id) };
      const session = await ProposalSession.show({ workspaceFolder: workspaceFolder().uri, proposal, lessons: winners, onVerdict: async () => {} });
      try {
        const lenses = await allLenses(file);
        const lineOf = (prefix: string) => original.split('\n').findIndex((l) => l.trimStart().startsWith(prefix));
        const titleAt = (line: number) => lenses.find((l) => l.line === line && l.command === 'rsi.acceptHunk')?.title;
        assert.deepEqual(lenses.filter((l) => l.command === '').map((l) => l.title), [
          'Whole proposal: sharpe 1 → 3.1700 (+217.00%), 3 kept changes measured one after the other',
        ]);
        // fast moved in two winners, one of which also moved stopLoss: neither measured the hunk alone.
        assert.equal(titleAt(lineOf('fast:')), 'Accept (from 2 kept changes, each measured as a whole)');
        assert.equal(titleAt(lineOf('stopLoss:')), 'Accept (part of a kept change measured as a whole)');
        // size moved alone in its winner: that winner's measurement is the hunk's own.
        assert.match(titleAt(lineOf('size:')) ?? '', /^Accept \(\+26\.8% /);

        const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', file, new vscode.Position(lineOf('fast:'), 4));
        const ours = hovers.flatMap((h) => h.contents).map((c) => (typeof c === 'string' ? c : c.value)).filter((text) => text.includes('RSI proposal'));
        assert.equal(ours.length, 1, 'the proposal is in one hover, once');
        assert.match(ours[0], /```diff\n- {2}fast: 3, \/\/ rsi: int 2\.\.50\n\+ {2}fast: 5, \/\/ rsi: int 2\.\.50\n```/);
        assert.match(ours[0], /cycle 1: both 0\\\.5 → 0\\\.6202/);
        assert.match(ours[0], /cycle 2: fastAgain/);
      } finally {
        session.dispose();
        await closeAllEditors();
      }
    },
  },
  {
    name: 'first hour: Accept All closes the "current ↔ proposed" tab it leaves with nothing to show',
    async fn() {
      const file = workspaceFile('strategy.js');
      const original = await fs.readFile(file.fsPath, 'utf8');
      const after = original.replace('fast: 3,', 'fast: 4,');
      const changes = [{ path: 'strategy.js', before: original, after }];
      const winner: Lesson = {
        v: 1, id: 'tab', time: new Date().toISOString(), cycle: 1, proposer: 'tuner', hypothesis: 'fast 3 -> 4 (strategy.js)', files: ['strategy.js'],
        patch: unifiedDiff(changes), patchHash: 'tab', outcome: 'kept', metric: metric(1, 1.1), durationMs: 1,
      };
      const session = await ProposalSession.show({
        workspaceFolder: workspaceFolder().uri,
        proposal: { changes, patch: unifiedDiff(changes), lessons: ['tab'] },
        lessons: [winner],
        onVerdict: async () => {},
      });
      const diffTabs = () =>
        vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'rsi-proposal');
      try {
        await session.openDiff(file);
        assert.equal(diffTabs().length, 1);
        await session.acceptAll();
        assert.equal((await vscode.workspace.openTextDocument(file)).getText(), after);
        await waitFor(() => diffTabs().length === 0, 10_000, 'the diff tab to close');
      } finally {
        session.dispose();
        await closeAllEditors();
        await fs.writeFile(file.fsPath, original);
      }
    },
  },
];

// The inline diff inside a real VS Code, on the suite's workspace (a copy of examples/backtest).
// It drives ProposalSession directly (this bundle has its own copy of it), so it depends on
// nothing else of the extension, and reads the lenses the way the editor does.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PendingProposal } from '../../../src/core/cycle';
import type { Lesson, LessonMetric } from '../../../src/core/lessons';
import { unifiedDiff, type FileChange } from '../../../src/core/patch';
import { ProposalSession, type HunkVerdict } from '../../../src/vscode/inlineDiff/session';

const FILE = 'strategy.js';
const FAST = { from: '  fast: 3, // rsi: int 2..50', to: '  fast: 4, // rsi: int 2..50' };
const STOP = { from: '  stopLoss: 0.006, // rsi: 0.005..0.1', to: '  stopLoss: 0.008, // rsi: 0.005..0.1' };

function workspaceUri(rel: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite needs a workspace folder');
  return vscode.Uri.joinPath(folder.uri, rel);
}

const fileUri = () => workspaceUri(FILE);
const readDisk = () => fs.readFile(fileUri().fsPath);

function metric(change: number, ci: [number, number]): LessonMetric {
  return { name: 'sharpe', direction: 'maximize', baseline: { median: 1, n: 12 }, candidate: { median: 1 + change, n: 12 }, change, ci, p: 0.001 };
}

function winner(id: string, changes: FileChange[], evidence: LessonMetric): Lesson {
  return {
    v: 1, id, time: new Date().toISOString(), cycle: 1, proposer: 'tuner', hypothesis: `${id}: retune`,
    files: changes.map((c) => c.path), patch: unifiedDiff(changes), patchHash: id, outcome: 'kept', metric: evidence, durationMs: 1,
  };
}

interface Fixture {
  original: Buffer;
  proposed: string;
  proposal: PendingProposal;
  lessons: Lesson[];
}

/** Two winners on strategy.js, one line each: "fast" (+12.4%) then "stopLoss" (+3.0%). */
async function fixture(): Promise<Fixture> {
  const original = await readDisk();
  const text = original.toString('utf8');
  assert.ok(text.includes(FAST.from) && text.includes(STOP.from), 'strategy.js is not the expected example');
  const afterFast = text.replace(FAST.from, FAST.to);
  const proposed = afterFast.replace(STOP.from, STOP.to);
  const fast = winner('fast', [{ path: FILE, before: text, after: afterFast }], metric(0.124, [0.081, 0.15]));
  const stop = winner('stop', [{ path: FILE, before: afterFast, after: proposed }], metric(0.03, [0.012, 0.051]));
  const changes = [{ path: FILE, before: text, after: proposed }];
  return { original, proposed, proposal: { changes, patch: unifiedDiff(changes), lessons: [fast.id, stop.id] }, lessons: [fast, stop] };
}

interface Shown {
  session: ProposalSession;
  fx: Fixture;
  verdicts: HunkVerdict[];
  document: vscode.TextDocument;
}

/** Shows the fixture's proposal, runs the test, then disposes it and puts strategy.js back as it was. */
async function withProposal(test: (shown: Shown) => Promise<void>, prepare?: (fx: Fixture) => Promise<void>, proposal?: PendingProposal): Promise<void> {
  assert.deepEqual(await lenses(), [], 'another proposal is pending on strategy.js: these tests need it decided first');
  const fx = await fixture();
  const verdicts: HunkVerdict[] = [];
  await prepare?.(fx);
  const session = await ProposalSession.show({
    workspaceFolder: vscode.workspace.workspaceFolders![0].uri,
    proposal: proposal ?? fx.proposal,
    lessons: fx.lessons,
    onVerdict: async (v) => void verdicts.push(...v),
  });
  try {
    await test({ session, fx, verdicts, document: await vscode.workspace.openTextDocument(fileUri()) });
  } finally {
    session.dispose();
    await setText(await vscode.workspace.openTextDocument(fileUri()), fx.original.toString('utf8'));
    assert.ok((await readDisk()).equals(fx.original), 'strategy.js restored');
  }
}

/** Replaces the whole document, as a user's edit, and saves it. */
async function setText(document: vscode.TextDocument, text: string): Promise<void> {
  if (document.getText() !== text) {
    const edit = new vscode.WorkspaceEdit();
    edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), text);
    assert.ok(await vscode.workspace.applyEdit(edit));
  }
  if (document.isDirty) assert.ok(await document.save());
}

interface Lens {
  title: string;
  line: number;
  command: string;
  args: unknown[];
}

/** This proposal's lenses on a file, as the editor asks for them. */
async function lenses(uri = fileUri()): Promise<Lens[]> {
  await vscode.workspace.openTextDocument(uri); // the command asks the open document's providers
  const all = (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)) ?? [];
  return all
    .filter((l) => l.command?.command.startsWith('rsi.'))
    .map((l) => ({ title: l.command!.title, line: l.range.start.line, command: l.command!.command, args: l.command!.arguments ?? [] }));
}

const lineOf = (text: string, line: string) => text.split('\n').indexOf(line);
const decisionLenses = (all: Lens[]) => all.filter((l) => /^(Accept|Reject)/.test(l.title));

function hunkLens(all: Lens[], line: number, prefix: string): Lens {
  const found = all.find((l) => l.line === line && l.title.startsWith(prefix) && l.command.endsWith('Hunk'));
  assert.ok(found, `no "${prefix}" lens on line ${line}; lenses: ${JSON.stringify(all.map((l) => `${l.line}:${l.title}`))}`);
  return found;
}

/** The hunk id a lens acts on, after checking it targets the file's own file: URI. */
function hunkId(lens: Lens): string {
  const [uri, id] = lens.args as [vscode.Uri, string];
  assert.equal(uri.toString(), fileUri().toString());
  return id;
}

/** Polls a condition the editor reaches asynchronously (auto-save), failing after a bound. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const tests: { name: string; fn: () => Promise<void>; timeoutMs?: number }[] = [
  {
    name: 'inline diff: lenses show Accept with evidence and Reject per hunk, Accept All / Reject All / Open Diff on top',
    fn: () =>
      withProposal(async ({ fx, document }) => {
        const text = fx.original.toString('utf8');
        assert.equal(document.getText(), text, 'the buffer holds no proposal');
        assert.equal(document.isDirty, false);
        const all = await lenses();
        const top = all.filter((l) => l.line === 0).map((l) => [l.title, l.command]);
        assert.deepEqual(top, [
          ['Accept All', 'rsi.acceptProposal'],
          ['Reject All', 'rsi.rejectProposal'],
          ['Open Diff', 'rsi.openProposalDiff'],
        ]);
        for (const lens of all.filter((l) => l.line === 0)) assert.equal((lens.args[0] as vscode.Uri).toString(), fileUri().toString());
        const fastLine = lineOf(text, FAST.from);
        assert.equal(hunkLens(all, fastLine, 'Accept').title, 'Accept (+12.4% [+8.1%, +15.0%], n=12+12)');
        assert.equal(hunkLens(all, fastLine, 'Reject').title, 'Reject');
        assert.equal(hunkLens(all, lineOf(text, STOP.from), 'Accept').title, 'Accept (+3.0% [+1.2%, +5.1%], n=12+12)');
        assert.equal(hunkId(hunkLens(all, fastLine, 'Accept')), hunkId(hunkLens(all, fastLine, 'Reject')));
      }),
  },
  {
    name: 'inline diff: accepting each hunk writes exactly the proposed text; verdicts per lesson; no lens remains',
    fn: () =>
      withProposal(async ({ session, fx, verdicts }) => {
        const text = fx.original.toString('utf8');
        const all = await lenses();
        assert.equal(await session.acceptHunk(fileUri(), hunkId(hunkLens(all, lineOf(text, FAST.from), 'Accept'))), true);
        assert.equal((await readDisk()).toString('utf8'), text.replace(FAST.from, FAST.to));
        assert.deepEqual(verdicts, [{ lessonId: 'fast', verdict: 'accepted' }]);
        assert.equal(session.pending, 1);
        assert.equal(await session.acceptHunk(fileUri(), hunkId(hunkLens(all, lineOf(text, STOP.from), 'Accept'))), true);
        assert.equal((await readDisk()).toString('utf8'), fx.proposed);
        assert.deepEqual(verdicts, [{ lessonId: 'fast', verdict: 'accepted' }, { lessonId: 'stop', verdict: 'accepted' }]);
        assert.equal(session.pending, 0);
        assert.deepEqual(decisionLenses(await lenses()), []);
      }),
  },
  {
    name: 'inline diff: Reject All leaves the file byte for byte and removes every lens',
    fn: () =>
      withProposal(async ({ session, fx, verdicts, document }) => {
        let ended = false;
        session.onDidChange(() => (ended ||= session.pending === 0));
        await session.rejectAll(fileUri());
        assert.ok((await readDisk()).equals(fx.original));
        assert.equal(document.getText(), fx.original.toString('utf8'));
        assert.equal(document.isDirty, false);
        assert.deepEqual(decisionLenses(await lenses()), []);
        assert.deepEqual(verdicts, [{ lessonId: 'fast', verdict: 'rejected' }, { lessonId: 'stop', verdict: 'rejected' }]);
        assert.ok(ended, 'onDidChange fired when the last hunk was decided');
      }),
  },
  {
    name: 'inline diff: with files.autoSave afterDelay the pending proposal never reaches the disk',
    fn: async () => {
      const files = vscode.workspace.getConfiguration('files');
      const saved = { autoSave: files.inspect('autoSave')?.globalValue, delay: files.inspect('autoSaveDelay')?.globalValue };
      const probe = path.join(os.tmpdir(), `rsi-autosave-probe-${process.pid}.txt`);
      await fs.writeFile(probe, 'before\n');
      try {
        await files.update('autoSave', 'afterDelay', vscode.ConfigurationTarget.Global);
        await files.update('autoSaveDelay', 100, vscode.ConfigurationTarget.Global);
        await withProposal(async ({ fx, document }) => {
          // Proof that auto-save is live: an edit in another file reaches its disk.
          const other = await vscode.workspace.openTextDocument(probe);
          const edit = new vscode.WorkspaceEdit();
          edit.insert(other.uri, new vscode.Position(0, 0), 'typed ');
          assert.ok(await vscode.workspace.applyEdit(edit));
          await until('auto-save of the probe file', async () => (await fs.readFile(probe, 'utf8')) === 'typed before\n');
          assert.equal(document.isDirty, false, 'the proposal made strategy.js dirty');
          assert.ok((await readDisk()).equals(fx.original), 'the proposal reached the disk');
          assert.ok(decisionLenses(await lenses()).length > 0, 'the proposal is still pending');
        });
      } finally {
        await files.update('autoSave', saved.autoSave, vscode.ConfigurationTarget.Global);
        await files.update('autoSaveDelay', saved.delay, vscode.ConfigurationTarget.Global);
        await fs.rm(probe, { force: true });
      }
    },
  },
  {
    name: 'inline diff: typing above a hunk keeps it aligned; accept writes the right lines',
    fn: () =>
      withProposal(async ({ session, fx, document }) => {
        const text = fx.original.toString('utf8');
        const editor = vscode.window.visibleTextEditors.find((e) => e.document === document);
        assert.ok(editor, 'show() opened an editor of the file');
        assert.ok(await editor.edit((b) => b.insert(new vscode.Position(0, 0), '// typed by the user\n')));
        const fastLine = lineOf(text, FAST.from) + 1;
        const accept = hunkLens(await lenses(), fastLine, 'Accept');
        assert.equal(await session.acceptHunk(fileUri(), hunkId(accept)), true);
        assert.equal((await readDisk()).toString('utf8'), `// typed by the user\n${text.replace(FAST.from, FAST.to)}`);
        assert.equal(hunkLens(await lenses(), lineOf(text, STOP.from) + 1, 'Accept').title.startsWith('Accept ('), true);
      }),
  },
  {
    name: 'inline diff: editing inside a hunk makes it stale and accept refuses; undoing the edit revives it',
    fn: () =>
      withProposal(async ({ session, fx, document }) => {
        const text = fx.original.toString('utf8');
        const fastLine = lineOf(text, FAST.from);
        const id = hunkId(hunkLens(await lenses(), fastLine, 'Accept'));
        const digit = new vscode.Range(fastLine, FAST.from.indexOf('3'), fastLine, FAST.from.indexOf('3') + 1);
        const retype = async (value: string) => {
          const edit = new vscode.WorkspaceEdit();
          edit.replace(fileUri(), digit, value);
          assert.ok(await vscode.workspace.applyEdit(edit));
        };
        await retype('5');
        assert.equal(hunkLens(await lenses(), fastLine, 'Stale').title, 'Stale: the file changed here');
        assert.equal(await session.acceptHunk(fileUri(), id), false);
        assert.equal(document.lineAt(fastLine).text, FAST.from.replace('3', '5'), 'a refused accept leaves the user text');
        await retype('3');
        assert.ok(hunkLens(await lenses(), fastLine, 'Accept').title.startsWith('Accept ('));
        await session.rejectHunk(fileUri(), id);
        assert.equal(session.pending, 1);
      }),
  },
  {
    name: 'inline diff: a file edited during the run: moved hunks follow, changed ones are stale; Accept All skips them',
    fn: async () => {
      let text = '';
      await withProposal(
        async ({ session, verdicts, document }) => {
          const all = await lenses();
          hunkLens(all, lineOf(text, FAST.from) + 2, 'Accept (');
          hunkLens(all, lineOf(text, STOP.from) + 2, 'Stale');
          await session.acceptAll(fileUri());
          assert.equal(document.lineAt(lineOf(text, FAST.from) + 2).text, FAST.to);
          assert.equal(session.pending, 1, 'the stale hunk is left pending');
          await session.rejectAll();
          assert.deepEqual(verdicts, [{ lessonId: 'fast', verdict: 'accepted' }, { lessonId: 'stop', verdict: 'rejected' }]);
          assert.equal((await readDisk()).toString('utf8'), `// one\n// two\n${text.replace(FAST.from, FAST.to).replace(STOP.from, '  stopLoss: 0.05,')}`);
        },
        async (fx) => {
          text = fx.original.toString('utf8');
          const edited = `// one\n// two\n${text.replace(STOP.from, '  stopLoss: 0.05,')}`;
          await setText(await vscode.workspace.openTextDocument(fileUri()), edited);
        },
      );
    },
  },
  {
    name: 'inline diff: Accept All is one edit, undone by one undo',
    fn: () =>
      withProposal(async ({ session, fx, document }) => {
        await vscode.window.showTextDocument(document);
        await session.acceptAll();
        assert.equal(document.getText(), fx.proposed);
        await vscode.commands.executeCommand('undo');
        assert.equal(document.getText(), fx.original.toString('utf8'));
      }),
  },
  {
    name: 'inline diff: Open Diff shows the file against the proposed text',
    fn: () =>
      withProposal(async ({ session, fx }) => {
        await session.openDiff(fileUri());
        const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
        assert.ok(input instanceof vscode.TabInputTextDiff, 'the active tab is a diff');
        assert.equal(input.original.toString(), fileUri().toString());
        assert.equal(input.modified.scheme, 'rsi-proposal');
        assert.equal((await vscode.workspace.openTextDocument(input.modified)).getText(), fx.proposed);
        await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
      }),
  },
  {
    name: 'inline diff: a new file and a deleted file are applied by Accept All',
    fn: async () => {
      const created = workspaceUri('notes/new.txt');
      const doomed = workspaceUri('scratch.txt');
      await fs.writeFile(doomed.fsPath, 'old\n');
      const changes: FileChange[] = [
        { path: 'notes/new.txt', before: null, after: 'hello\n' },
        { path: 'scratch.txt', before: 'old\n', after: null },
      ];
      try {
        await withProposal(
          async ({ session }) => {
            assert.ok(decisionLenses(await lenses(doomed)).some((l) => l.title === 'Accept All'));
            await session.acceptAll();
            assert.equal(await fs.readFile(created.fsPath, 'utf8'), 'hello\n');
            await assert.rejects(fs.stat(doomed.fsPath));
            assert.equal(session.pending, 0);
          },
          undefined,
          { changes, patch: unifiedDiff(changes), lessons: ['fast'] },
        );
      } finally {
        await fs.rm(path.dirname(created.fsPath), { recursive: true, force: true });
        await fs.rm(doomed.fsPath, { force: true });
      }
    },
  },
];

import * as vscode from 'vscode';
import type { Lesson, Verdict } from '../core/lessons';
import { describeGuards, describeOutcome, metricValue, percent } from '../core/format';
import { escapeMarkdown } from './inlineDiff/evidence';
import { relativeTime } from './relativeTime';
import { changeSummary } from './changeSummary';
import { CHANGE_GROUPS, groupLessons, type GroupId, type LessonGroup } from './lessonGroups';
import type { LessonsFile } from './lessonsFile';
import { Disposable } from './lifecycle';

export type LessonNode =
  | { kind: 'folder'; folder: vscode.WorkspaceFolder }
  | { kind: 'group'; folder: vscode.WorkspaceFolder; group: LessonGroup }
  /** Every group of what was tried and not kept, folded under one node. */
  | { kind: 'tried'; folder: vscode.WorkspaceFolder; groups: LessonGroup[] }
  | { kind: 'lesson'; folder: vscode.WorkspaceFolder; lesson: Lesson; verdict?: Verdict['verdict']; pending: boolean };

/** The lessons of a proposal pending in the editor, and when that changes. */
export interface PendingLessons {
  readonly pendingLessons: ReadonlySet<string>;
  readonly onDidChangeProposal: vscode.Event<void>;
}

const GROUP_ICONS: Record<GroupId, vscode.ThemeIcon> = {
  accepted: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  kept: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  rejected: new vscode.ThemeIcon('thumbsdown'),
  regressed: new vscode.ThemeIcon('triangle-down'),
  'no-effect': new vscode.ThemeIcon('dash'),
  'guard-failed': new vscode.ThemeIcon('shield', new vscode.ThemeColor('testing.iconFailed')),
  'gate-failed': new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  crashed: new vscode.ThemeIcon('bug'),
  timeout: new vscode.ThemeIcon('watch'),
  'memory-exceeded': new vscode.ThemeIcon('flame'),
  invalid: new vscode.ThemeIcon('warning'),
  duplicate: new vscode.ThemeIcon('copy'),
};

const PENDING_ICON = new vscode.ThemeIcon('diff', new vscode.ThemeColor('editorOverviewRuler.modifiedForeground'));

/**
 * The `rsi.lessons` view: each folder's lessons grouped by outcome and verdict, newest first.
 * What changed the code comes first, open; what was tried and not kept is folded under one node.
 * A lesson leads with its change ("fast 3 → 4") and what moved; those of the proposal pending in
 * the editor are marked. With one folder the groups are the top level; with several, each folder is a node.
 */
export class LessonsTree extends Disposable implements vscode.TreeDataProvider<LessonNode> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly lessons: LessonsFile, private readonly proposal: PendingLessons) {
    super();
    this._register(vscode.window.registerTreeDataProvider('rsi.lessons', this));
    this._register(lessons.onDidChange(() => this.changed.fire()));
    this._register(proposal.onDidChangeProposal(() => this.changed.fire()));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.changed.fire()));
  }

  async getChildren(node?: LessonNode): Promise<LessonNode[]> {
    if (!node) {
      const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
      return folders.length === 1 ? this.groupsOf(folders[0]) : folders.map((folder) => ({ kind: 'folder', folder }));
    }
    if (node.kind === 'folder') return this.groupsOf(node.folder);
    if (node.kind === 'tried') return node.groups.map((group) => ({ kind: 'group', folder: node.folder, group }));
    if (node.kind === 'group') {
      const log = await this.lessons.read(node.folder);
      const pending = this.proposal.pendingLessons;
      return node.group.lessons.map((lesson) => ({ kind: 'lesson', folder: node.folder, lesson, verdict: log.verdicts.get(lesson.id), pending: pending.has(lesson.id) }));
    }
    return [];
  }

  getTreeItem(node: LessonNode): vscode.TreeItem {
    switch (node.kind) {
      case 'folder': {
        const item = new vscode.TreeItem(node.folder.name, vscode.TreeItemCollapsibleState.Expanded);
        item.iconPath = new vscode.ThemeIcon('root-folder');
        return item;
      }
      case 'tried': {
        const item = new vscode.TreeItem('Tried, not kept', vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.folder.uri.toString()}#tried`;
        item.description = String(node.groups.reduce((n, g) => n + g.lessons.length, 0));
        item.iconPath = new vscode.ThemeIcon('history');
        return item;
      }
      case 'group': {
        const state = CHANGE_GROUPS.has(node.group.id) ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
        const item = new vscode.TreeItem(node.group.label, state);
        item.id = `${node.folder.uri.toString()}#${node.group.id}`;
        item.description = String(node.group.lessons.length);
        item.iconPath = GROUP_ICONS[node.group.id];
        return item;
      }
      case 'lesson':
        return lessonItem(node);
    }
  }

  private async groupsOf(folder: vscode.WorkspaceFolder): Promise<LessonNode[]> {
    const groups = groupLessons(await this.lessons.read(folder));
    const changes: LessonNode[] = groups.filter((g) => CHANGE_GROUPS.has(g.id)).map((group) => ({ kind: 'group', folder, group }));
    const tried = groups.filter((g) => !CHANGE_GROUPS.has(g.id));
    return tried.length > 0 ? [...changes, { kind: 'tried', folder, groups: tried }] : changes;
  }
}

function lessonItem({ folder, lesson, verdict, pending }: Extract<LessonNode, { kind: 'lesson' }>): vscode.TreeItem {
  const item = new vscode.TreeItem(changeSummary(lesson), vscode.TreeItemCollapsibleState.None);
  item.id = lesson.id;
  const failedGuard = lesson.guards?.find((g) => !g.passed);
  const moved = lesson.metric ? `${lesson.metric.name} ${percent(lesson.metric.change)}${failedGuard ? `, guard ${failedGuard.name} ${percent(failedGuard.change)}` : ''}` : lesson.outcome;
  item.description = [pending && 'pending in the editor', moved, relativeTime(lesson.time)].filter(Boolean).join(' · ');
  if (pending) item.iconPath = PENDING_ICON;
  item.tooltip = evidence(lesson, verdict, pending);
  item.contextValue = 'rsi.lesson';
  item.command = { command: 'rsi.openLesson', title: 'Open Lesson Patch', arguments: [folder.uri, lesson.id] };
  return item;
}

/** One figure kept on one line: a tooltip may wrap between figures, never inside one. */
const figure = (text: string) => escapeMarkdown(text).replace(/ /g, '\u00a0');

/** The lesson's case: outcome and verdict, the hypothesis, the measurement one figure a line, the detail. */
function evidence(lesson: Lesson, verdict: Verdict['verdict'] | undefined, pending: boolean): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  const when = new Date(lesson.time).toLocaleString();
  const state = pending ? ', pending in the editor' : verdict ? `, ${verdict} by you` : '';
  md.appendMarkdown(`**${lesson.outcome}**${state} · cycle ${lesson.cycle} · ${escapeMarkdown(lesson.proposer)} · ${escapeMarkdown(when)}\n\n`);
  md.appendMarkdown(escapeMarkdown(lesson.hypothesis.replace(/ -> /g, ' → ')) + '\n\n');
  const m = lesson.metric;
  if (m) {
    const figures = [`${m.name} (${m.direction}): ${metricValue(m.baseline.median)} → ${metricValue(m.candidate.median)}`, describeOutcome(lesson, { p: true }), ...describeGuards(lesson)];
    md.appendMarkdown(figures.map((f) => `- ${figure(f)}`).join('\n') + '\n\n');
  }
  if (lesson.files.length > 0) md.appendText(`files: ${lesson.files.join(', ')}`).appendMarkdown('\n\n');
  if (lesson.detail) md.appendCodeblock(lesson.detail.slice(0, 2000), 'text');
  return md;
}

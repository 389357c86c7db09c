import * as vscode from 'vscode';
import type { Lesson, Verdict } from '../core/lessons';
import { describeOutcome, metricValue, percent } from '../core/format';
import { relativeTime } from './relativeTime';
import { groupLessons, type GroupId, type LessonGroup } from './lessonGroups';
import type { LessonsFile } from './lessonsFile';
import { Disposable } from './lifecycle';

export type LessonNode =
  | { kind: 'folder'; folder: vscode.WorkspaceFolder }
  | { kind: 'group'; folder: vscode.WorkspaceFolder; group: LessonGroup }
  | { kind: 'lesson'; folder: vscode.WorkspaceFolder; lesson: Lesson; verdict?: Verdict['verdict'] };

const GROUP_ICONS: Record<GroupId, vscode.ThemeIcon> = {
  accepted: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  kept: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  rejected: new vscode.ThemeIcon('thumbsdown'),
  regressed: new vscode.ThemeIcon('triangle-down'),
  'no-effect': new vscode.ThemeIcon('dash'),
  'gate-failed': new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  crashed: new vscode.ThemeIcon('bug'),
  timeout: new vscode.ThemeIcon('watch'),
  'memory-exceeded': new vscode.ThemeIcon('flame'),
  invalid: new vscode.ThemeIcon('warning'),
  duplicate: new vscode.ThemeIcon('copy'),
};

/** Groups that open expanded: what changed the code. Failures stay folded. */
const EXPANDED: ReadonlySet<GroupId> = new Set(['accepted', 'kept', 'rejected']);

/**
 * The `rsi.lessons` view: each folder's lessons grouped by outcome and verdict, newest first.
 * With one folder the groups are the top level; with several, each folder is a node.
 */
export class LessonsTree extends Disposable implements vscode.TreeDataProvider<LessonNode> {
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly lessons: LessonsFile) {
    super();
    this._register(vscode.window.registerTreeDataProvider('rsi.lessons', this));
    this._register(lessons.onDidChange(() => this.changed.fire()));
    this._register(vscode.workspace.onDidChangeWorkspaceFolders(() => this.changed.fire()));
  }

  async getChildren(node?: LessonNode): Promise<LessonNode[]> {
    if (!node) {
      const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
      return folders.length === 1 ? this.groupsOf(folders[0]) : folders.map((folder) => ({ kind: 'folder', folder }));
    }
    if (node.kind === 'folder') return this.groupsOf(node.folder);
    if (node.kind === 'group') {
      const log = await this.lessons.read(node.folder);
      return node.group.lessons.map((lesson) => ({ kind: 'lesson', folder: node.folder, lesson, verdict: log.verdicts.get(lesson.id) }));
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
      case 'group': {
        const state = EXPANDED.has(node.group.id) ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed;
        const item = new vscode.TreeItem(node.group.label, state);
        item.id = `${node.folder.uri.toString()}#${node.group.id}`;
        item.description = String(node.group.lessons.length);
        item.iconPath = GROUP_ICONS[node.group.id];
        return item;
      }
      case 'lesson':
        return lessonItem(node.folder, node.lesson, node.verdict);
    }
  }

  private async groupsOf(folder: vscode.WorkspaceFolder): Promise<LessonNode[]> {
    return groupLessons(await this.lessons.read(folder)).map((group) => ({ kind: 'group', folder, group }));
  }
}

function lessonItem(folder: vscode.WorkspaceFolder, lesson: Lesson, verdict: Verdict['verdict'] | undefined): vscode.TreeItem {
  const item = new vscode.TreeItem(lesson.hypothesis, vscode.TreeItemCollapsibleState.None);
  item.id = lesson.id;
  const change = lesson.metric ? `${percent(lesson.metric.change)} · ` : '';
  item.description = change + relativeTime(lesson.time);
  item.tooltip = evidence(lesson, verdict);
  item.contextValue = 'rsi.lesson';
  item.command = { command: 'rsi.openLesson', title: 'Open Lesson Patch', arguments: [folder.uri, lesson.id] };
  return item;
}

/** The lesson's case: outcome and verdict, the measurement with its interval, the detail. */
function evidence(lesson: Lesson, verdict: Verdict['verdict'] | undefined): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  const when = new Date(lesson.time).toLocaleString();
  md.appendMarkdown(`**${lesson.outcome}**${verdict ? `, ${verdict} by you` : ''} · cycle ${lesson.cycle} · ${lesson.proposer} · ${when}\n\n`);
  md.appendText(lesson.hypothesis).appendMarkdown('\n\n');
  const m = lesson.metric;
  if (m) {
    md.appendText(`${m.name} (${m.direction}): ${metricValue(m.baseline.median)} → ${metricValue(m.candidate.median)}\n${describeOutcome(lesson, { p: true })}`).appendMarkdown('\n\n');
  }
  if (lesson.files.length > 0) md.appendText(`files: ${lesson.files.join(', ')}`).appendMarkdown('\n\n');
  if (lesson.detail) md.appendCodeblock(lesson.detail.slice(0, 2000), 'text');
  return md;
}

import * as vscode from 'vscode';
import { readLessons, type LessonLog } from '../core/lessons';
import { Disposable, toDisposable } from './lifecycle';

/**
 * The lessons of each workspace folder, read on demand and cached until `.rsi/lessons.jsonl`
 * changes: through a cycle or a verdict in this window, or the CLI in a terminal (a file watcher).
 */
export class LessonsFile extends Disposable {
  private readonly cache = new Map<string, Promise<LessonLog>>();
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  /** Fires once for a burst of changes (a cycle appends one lesson per candidate). */
  readonly onDidChange = this.changed.event;
  private watching = false;
  private fireTimer: NodeJS.Timeout | undefined;

  constructor() {
    super();
    this._register(toDisposable(() => clearTimeout(this.fireTimer)));
  }

  read(folder: vscode.WorkspaceFolder): Promise<LessonLog> {
    this.watch();
    const key = folder.uri.toString();
    let log = this.cache.get(key);
    if (!log) {
      log = readLessons(folder.uri.fsPath);
      this.cache.set(key, log);
      // An unreadable file is tried again on the next read rather than cached as broken.
      log.catch(() => this.cache.delete(key));
    }
    return log;
  }

  /** Forgets what was read of one folder (or all) at once, and tells the views a moment later. */
  invalidate(folder?: vscode.WorkspaceFolder): void {
    if (folder) this.cache.delete(folder.uri.toString());
    else this.cache.clear();
    this.fireTimer ??= setTimeout(() => {
      this.fireTimer = undefined;
      this.changed.fire();
    }, 100);
  }

  /** One watcher for every folder, present and future; made on the first read, so activation watches nothing. */
  private watch(): void {
    if (this.watching) return;
    this.watching = true;
    const watcher = this._register(vscode.workspace.createFileSystemWatcher('**/.rsi/lessons.jsonl'));
    const onEvent = (uri: vscode.Uri) => this.invalidate(vscode.workspace.getWorkspaceFolder(uri));
    this._register(watcher.onDidCreate(onEvent));
    this._register(watcher.onDidChange(onEvent));
    this._register(watcher.onDidDelete(onEvent));
  }
}

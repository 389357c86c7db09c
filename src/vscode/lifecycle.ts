import * as vscode from 'vscode';

/** Disposes every item, last registered first (later objects may depend on earlier ones). */
export function disposeAll(disposables: vscode.Disposable[]): void {
  while (disposables.length > 0) {
    disposables.pop()?.dispose();
  }
}

export function toDisposable(dispose: () => void): vscode.Disposable {
  return { dispose };
}

/**
 * Base class for long-lived objects: whatever they create (listeners, providers, emitters) goes
 * through `_register()` and is released by one `dispose()`. Registering after disposal disposes
 * the value at once, so a late async callback cannot leak a listener.
 */
export abstract class Disposable implements vscode.Disposable {
  private disposables: vscode.Disposable[] = [];
  private disposed = false;

  protected get isDisposed(): boolean {
    return this.disposed;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeAll(this.disposables);
  }

  protected _register<T extends vscode.Disposable>(value: T): T {
    if (this.disposed) {
      value.dispose();
    } else {
      this.disposables.push(value);
    }
    return value;
  }
}

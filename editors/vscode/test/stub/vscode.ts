/**
 * A stand-in for the `vscode` module, for tests that run in plain Node.
 *
 * It holds just the API surface the extension and vscode-languageclient's
 * converters touch, with state the tests inspect and drive through `stub`
 * (settings, registered commands, messages, the status bar item).
 */

 

export enum InlineCompletionTriggerKind {
  Invoke = 0,
  Automatic = 1,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}
export enum DiagnosticSeverity {
  Error = 0,
  Warning = 1,
  Information = 2,
  Hint = 3,
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(startLine: number, startCharacter: number, endLine: number, endCharacter: number) {
    this.start = new Position(startLine, startCharacter);
    this.end = new Position(endLine, endCharacter);
  }
}

export class SnippetString {
  constructor(readonly value: string) {}
}

export class InlineCompletionItem {
  filterText?: string;
  constructor(
    readonly insertText: string | SnippetString,
    readonly range?: Range,
    readonly command?: unknown,
  ) {}
}

export class InlineCompletionList {
  constructor(readonly items: InlineCompletionItem[]) {}
}

export class Uri {
  readonly scheme: string;
  private constructor(private readonly value: string) {
    this.scheme = value.split(":", 1)[0];
  }
  static parse(value: string): Uri {
    return new Uri(value);
  }
  static file(path: string): Uri {
    return new Uri(`file://${path}`);
  }
  get fsPath(): string {
    return this.value.replace(/^file:\/\//, "");
  }
  toString(): string {
    return this.value;
  }
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class CancellationError extends Error {}

export class Disposable {
  constructor(private readonly callback: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.callback();
  }
}

export const version = "1.91.0";
export const env = { language: "en", appName: "vscode-stub", openExternal: () => Promise.resolve(true) };
export enum LogLevel {
  Off = 0,
  Trace = 1,
  Debug = 2,
  Info = 3,
  Warning = 4,
  Error = 5,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum NotebookCellKind {
  Markup = 1,
  Code = 2,
}
export class TabInputText {}
export class TabInputTextDiff {}
export class TabInputNotebook {}
export class TabInputCustom {}

export class CancellationTokenSource {
  private listeners: (() => unknown)[] = [];
  private cancelled = false;
  readonly token = {
    isCancellationRequested: false,
    onCancellationRequested: (listener: () => unknown): Disposable => {
      this.listeners.push(listener);
      return new Disposable(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      });
    },
  };
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.token.isCancellationRequested = true;
    for (const listener of [...this.listeners]) listener();
  }
  dispose(): void {
    this.listeners = [];
  }
}

// Base classes vscode-languageclient's converters extend at load time.
export class CompletionItem {}
export class CodeLens {}
export class DocumentLink {}
export class CodeAction {}
export class Diagnostic {}
export class InlayHint {}
export class TypeHierarchyItem {}
export class SymbolInformation {}
export class CallHierarchyItem {}
export class CodeActionKind {
  private constructor(readonly value: string) {}
  static readonly Empty = new CodeActionKind("");
  static readonly QuickFix = new CodeActionKind("quickfix");
  static readonly Refactor = new CodeActionKind("refactor");
  static readonly RefactorExtract = new CodeActionKind("refactor.extract");
  static readonly RefactorInline = new CodeActionKind("refactor.inline");
  static readonly RefactorRewrite = new CodeActionKind("refactor.rewrite");
  static readonly Source = new CodeActionKind("source");
  static readonly SourceOrganizeImports = new CodeActionKind("source.organizeImports");
}

type Listener<T> = (value: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export interface FakeStatusBarItem {
  id: string;
  name?: string;
  text: string;
  tooltip?: string;
  command?: string;
  backgroundColor?: ThemeColor;
  visible: boolean;
  show(): void;
  hide(): void;
  dispose(): void;
}

export interface FakeOutputChannel {
  name: string;
  lines: string[];
  shown: number;
  logLevel: LogLevel;
  onDidChangeLogLevel: (listener: Listener<LogLevel>) => Disposable;
  append(text: string): void;
  appendLine(line: string): void;
  replace(text: string): void;
  clear(): void;
  trace(line: string): void;
  debug(line: string): void;
  info(line: string): void;
  warn(line: string): void;
  error(line: string | Error): void;
  show(): void;
  hide(): void;
  dispose(): void;
}

interface QuickPickItemLike {
  label: string;
}

/** Test controls and recordings. */
export const stub = {
  settings: new Map<string, unknown>(),
  updates: [] as { key: string; value: unknown; target: unknown }[],
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as { id: string; args: unknown[] }[],
  messages: [] as { kind: string; text: string; items: string[] }[],
  statusItems: [] as FakeStatusBarItem[],
  channels: [] as FakeOutputChannel[],
  quickPicks: [] as string[][],
  pickQuickItem: ((): QuickPickItemLike | undefined => undefined) as (
    items: QuickPickItemLike[],
  ) => QuickPickItemLike | undefined,
  configChanged: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
  editorChanged: new EventEmitter<unknown>(),
  activeLanguageId: undefined as string | undefined,
  /** A fuller active editor (document text, cursor), for the partial accepts. */
  activeEditor: undefined as unknown,
  textDocuments: [] as unknown[],
  documentOpened: new EventEmitter<unknown>(),
  documentChanged: new EventEmitter<unknown>(),
  documentClosed: new EventEmitter<unknown>(),
  inlineProviders: [] as { selector: unknown; provider: unknown }[],
  completionProviders: [] as { selector: unknown; provider: unknown }[],
  reset(): void {
    this.settings.clear();
    this.updates = [];
    this.commands.clear();
    this.executed = [];
    this.messages = [];
    this.statusItems = [];
    this.channels = [];
    this.quickPicks = [];
    this.pickQuickItem = () => undefined;
    this.configChanged = new EventEmitter();
    this.editorChanged = new EventEmitter();
    this.activeLanguageId = undefined;
    this.activeEditor = undefined;
    this.textDocuments = [];
    this.documentOpened = new EventEmitter();
    this.documentChanged = new EventEmitter();
    this.documentClosed = new EventEmitter();
    this.inlineProviders = [];
    this.completionProviders = [];
  },
  /** Sets `dscoder.<key>` and fires onDidChangeConfiguration like VS Code does. */
  changeSetting(key: string, value: unknown): void {
    this.settings.set(key, value);
    this.configChanged.fire({
      affectsConfiguration: (section: string) =>
        `dscoder.${key}` === section || `dscoder.${key}`.startsWith(`${section}.`),
    });
  },
};

function message(kind: string) {
  return (text: string, ...items: string[]): Promise<string | undefined> => {
    stub.messages.push({ kind, text, items });
    return Promise.resolve(undefined);
  };
}

const noEvent = (): Disposable => new Disposable(() => undefined);

export const window = {
  visibleTextEditors: [] as unknown[],
  onDidChangeVisibleTextEditors: noEvent,
  tabGroups: { all: [] as unknown[], onDidChangeTabs: noEvent, onDidChangeTabGroups: noEvent },
  withProgress: <R>(
    _options: unknown,
    task: (progress: unknown, token: unknown) => Promise<R>,
  ): Promise<R> =>
    task(
      { report: () => undefined },
      { isCancellationRequested: false, onCancellationRequested: noEvent },
    ),
  showTextDocument: () => Promise.resolve(undefined),
  get activeTextEditor(): { document: { languageId: string } } | undefined {
    if (stub.activeEditor !== undefined) return stub.activeEditor as { document: { languageId: string } };
    return stub.activeLanguageId === undefined
      ? undefined
      : { document: { languageId: stub.activeLanguageId } };
  },
  onDidChangeActiveTextEditor: (listener: Listener<unknown>) => stub.editorChanged.event(listener),
  createOutputChannel(name: string): FakeOutputChannel {
    const record = (line: string | Error) => {
      channel.lines.push(String(line));
    };
    const channel: FakeOutputChannel = {
      name,
      lines: [],
      shown: 0,
      logLevel: LogLevel.Info,
      onDidChangeLogLevel: () => new Disposable(() => undefined),
      append: record,
      appendLine: record,
      replace: () => undefined,
      clear: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: record,
      warn: record,
      error: record,
      show: () => {
        channel.shown += 1;
      },
      hide: () => undefined,
      dispose: () => undefined,
    };
    stub.channels.push(channel);
    return channel;
  },
  createStatusBarItem(id: string): FakeStatusBarItem {
    const item: FakeStatusBarItem = {
      id,
      text: "",
      visible: false,
      show: () => {
        item.visible = true;
      },
      hide: () => {
        item.visible = false;
      },
      dispose: () => undefined,
    };
    stub.statusItems.push(item);
    return item;
  },
  showQuickPick<T extends QuickPickItemLike>(items: T[]): Promise<T | undefined> {
    stub.quickPicks.push(items.map((item) => item.label));
    return Promise.resolve(stub.pickQuickItem(items) as T | undefined);
  },
  showErrorMessage: message("error"),
  showWarningMessage: message("warning"),
  showInformationMessage: message("info"),
};

export const workspace = {
  workspaceFolders: undefined as { uri: Uri }[] | undefined,
  getConfiguration(section: string) {
    return {
      get<T>(key: string, fallback: T): T {
        const value = stub.settings.get(key);
        return section === "dscoder" && value !== undefined ? (value as T) : fallback;
      },
      update(key: string, value: unknown, target: unknown): Promise<void> {
        stub.updates.push({ key, value, target });
        stub.changeSetting(key, value);
        return Promise.resolve();
      },
    };
  },
  onDidChangeConfiguration: (listener: Listener<{ affectsConfiguration(s: string): boolean }>) =>
    stub.configChanged.event(listener),
  get textDocuments(): unknown[] {
    return stub.textDocuments;
  },
  notebookDocuments: [] as unknown[],
  onDidOpenTextDocument: (listener: Listener<unknown>) => stub.documentOpened.event(listener),
  onDidChangeTextDocument: (listener: Listener<unknown>) => stub.documentChanged.event(listener),
  onDidCloseTextDocument: (listener: Listener<unknown>) => stub.documentClosed.event(listener),
  onDidSaveTextDocument: noEvent,
  onWillSaveTextDocument: noEvent,
  onDidOpenNotebookDocument: noEvent,
  onDidChangeNotebookDocument: noEvent,
  onDidSaveNotebookDocument: noEvent,
  onDidCloseNotebookDocument: noEvent,
  onDidChangeWorkspaceFolders: noEvent,
  createFileSystemWatcher: () => ({
    onDidCreate: noEvent,
    onDidChange: noEvent,
    onDidDelete: noEvent,
    dispose: () => undefined,
  }),
  registerTextDocumentContentProvider: noEvent,
  applyEdit: () => Promise.resolve(true),
};

interface SelectorEntry {
  scheme?: string;
  language?: string;
}

export const languages = {
  match(selector: SelectorEntry | SelectorEntry[] | string, document: { uri: Uri; languageId: string }): number {
    const entries = Array.isArray(selector) ? selector : [selector];
    let best = 0;
    for (const entry of entries) {
      if (typeof entry === "string") {
        if (entry === document.languageId || entry === "*") best = Math.max(best, 10);
        continue;
      }
      if (entry.scheme !== undefined && entry.scheme !== document.uri.scheme) continue;
      if (entry.language !== undefined && entry.language !== document.languageId) continue;
      best = Math.max(best, entry.language ? 10 : 5);
    }
    return best;
  },
  registerInlineCompletionItemProvider(selector: unknown, provider: unknown): Disposable {
    const entry = { selector, provider };
    stub.inlineProviders.push(entry);
    return new Disposable(() => {
      stub.inlineProviders = stub.inlineProviders.filter((e) => e !== entry);
    });
  },
  registerCompletionItemProvider(selector: unknown, provider: unknown): Disposable {
    const entry = { selector, provider };
    stub.completionProviders.push(entry);
    return new Disposable(() => {
      stub.completionProviders = stub.completionProviders.filter((e) => e !== entry);
    });
  },
  createDiagnosticCollection: () => ({
    set: () => undefined,
    delete: () => undefined,
    clear: () => undefined,
    dispose: () => undefined,
  }),
};

export const commands = {
  registerCommand(id: string, run: (...args: unknown[]) => unknown): Disposable {
    stub.commands.set(id, run);
    return new Disposable(() => stub.commands.delete(id));
  },
  executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    stub.executed.push({ id, args });
    const run = stub.commands.get(id);
    return Promise.resolve(run ? run(...args) : undefined);
  },
};

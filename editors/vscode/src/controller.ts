/**
 * The extension's state and commands, around one language client.
 *
 * The controller owns the settings, the status bar item and the client's
 * lifecycle (start, restart on server path changes, stop). It builds the
 * client through a factory so the unit tests can drive it with a stubbed
 * `vscode` module and a fake client; extension.ts passes the real one.
 */

import * as os from "node:os";
import * as vscode from "vscode";
import type { Middleware } from "vscode-languageclient/node";

import { createMiddleware } from "./middleware";
import { AcceptanceSignals } from "./signals";
import {
  type DscoderSettings,
  languageEnabled,
  needsRestart,
  readSettings,
  serverCommand,
  serverTree,
  serverTreeChanged,
} from "./settings";
import {
  type StatusModel,
  type StatusNotification,
  applyStats,
  applyStatusNotification,
  excludedNotice,
  initialStatus,
  renderStatus,
} from "./status";

export const SECTION = "dscoder";
export const STATUS_NOTIFICATION = "dscoder/status";
export const STATS_REQUEST = "dscoder/stats";
export const DID_CHANGE_CONFIGURATION = "workspace/didChangeConfiguration";

/** VS Code's own partial-accept commands; VS Code then tells the server what was taken. */
export const ACCEPT_WORD = "editor.action.inlineSuggest.acceptNextWord";
export const ACCEPT_LINE = "editor.action.inlineSuggest.acceptNextLine";

/** What the controller needs of a language client (vscode-languageclient's LanguageClient fits). */
export interface ClientLike {
  start(): Promise<void>;
  stop(timeout?: number): Promise<void>;
  isRunning(): boolean;
  sendRequest<R>(method: string, params?: unknown): Promise<R>;
  sendNotification(method: string, params?: unknown): Promise<void>;
  onNotification(method: string, handler: (params: StatusNotification) => void): vscode.Disposable;
}

export interface ClientSpec {
  command: string;
  args: string[];
  initializationOptions: Record<string, unknown>;
  middleware: Middleware;
  outputChannel: vscode.LogOutputChannel;
}

export type ClientFactory = (spec: ClientSpec) => ClientLike;

interface QuickAction extends vscode.QuickPickItem {
  run(): unknown;
}

export class Controller implements vscode.Disposable {
  private settings: DscoderSettings;
  private status: StatusModel = initialStatus();
  private client: ClientLike | undefined;
  private readonly item: vscode.StatusBarItem;
  private readonly output: vscode.LogOutputChannel;
  private readonly disposables: vscode.Disposable[] = [];
  private statsInFlight: Promise<void> | undefined;
  private statsWanted = false;
  /** Why each excluded document gets no suggestions, by URI (per-document `dscoder/status`). */
  private excluded = new Map<string, string>();
  private readonly signals = new AcceptanceSignals((method, params) => {
    const client = this.client;
    if (client?.isRunning()) {
      client.sendNotification(method, params).catch((error: unknown) => {
        this.output.warn(`${method} failed: ${errorText(error)}`);
      });
    }
  });

  constructor(private readonly factory: ClientFactory) {
    this.settings = this.readSettings();
    this.output = vscode.window.createOutputChannel("dscoder-lsp", { log: true });
    this.item = vscode.window.createStatusBarItem(
      "dscoder.status",
      vscode.StatusBarAlignment.Right,
      100,
    );
    this.item.name = "dscoder-lsp";
    this.item.command = "dscoder.quickActions";
    this.disposables.push(this.output, this.item);
  }

  /** Registers commands and listeners, shows the status item and starts the server. */
  async activate(): Promise<void> {
    const register = (id: string, run: () => unknown): void => {
      this.disposables.push(vscode.commands.registerCommand(id, run));
    };
    register("dscoder.acceptWord", () => this.acceptPart(ACCEPT_WORD));
    register("dscoder.acceptLine", () => this.acceptPart(ACCEPT_LINE));
    register("dscoder.toggle", () => this.toggle());
    register("dscoder.restartServer", () => this.restart());
    register("dscoder.showLog", () => this.output.show(true));
    register("dscoder.showStats", () => this.showStats());
    register("dscoder.quickActions", () => this.quickActions());
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(SECTION)) {
          void this.onSettingsChanged();
        }
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
    );
    this.render();
    this.item.show();
    await this.start();
  }

  get currentStatus(): StatusModel {
    return this.status;
  }

  get currentSettings(): DscoderSettings {
    return this.settings;
  }

  private readSettings(): DscoderSettings {
    const config = vscode.workspace.getConfiguration(SECTION);
    return readSettings(<T>(key: string, fallback: T) => config.get<T>(key, fallback));
  }

  private middleware(): Middleware {
    return createMiddleware({
      settings: () => this.settings,
      enabled: () => this.settings.enable,
      onAnswer: () => this.refreshStats(),
      onDelivered: (uri, items) => this.signals.didDeliver(uri, items),
      onFailure: () => this.refreshStats(),
    });
  }

  private setStatus(status: StatusModel): void {
    this.status = status;
    this.render();
  }

  private render(): void {
    const languageId = vscode.window.activeTextEditor?.document.languageId;
    this.status = {
      ...this.status,
      enabled: this.settings.enable,
      languageEnabled: languageId === undefined || languageEnabled(this.settings, languageId),
      excluded: this.activeExclusion(),
    };
    const rendered = renderStatus(this.status);
    this.item.text = rendered.text;
    this.item.tooltip = rendered.tooltip;
    this.item.backgroundColor =
      rendered.severity === "normal"
        ? undefined
        : new vscode.ThemeColor(`statusBarItem.${rendered.severity}Background`);
  }

  private activeExclusion(): string | null {
    const uri = (vscode.window.activeTextEditor?.document as { uri?: { toString(): string } } | undefined)
      ?.uri;
    return uri === undefined ? null : (this.excluded.get(uri.toString()) ?? null);
  }

  /** Starts a client for the current settings (a new process). */
  async start(): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const { command, args } = serverCommand(this.settings, os.homedir(), folder);
    const client = this.factory({
      command,
      args,
      initializationOptions: serverTree(this.settings),
      middleware: this.middleware(),
      outputChannel: this.output,
    });
    this.client = client;
    this.setStatus({ ...initialStatus(), state: "starting" });
    client.onNotification(STATUS_NOTIFICATION, (params) => {
      if (this.client !== client) return;
      const notice = excludedNotice(params);
      if (notice !== undefined) {
        this.excluded.set(notice.uri, notice.reason);
        this.render();
      } else {
        this.setStatus(applyStatusNotification(this.status, params));
      }
    });
    try {
      await client.start();
    } catch (error) {
      if (this.client === client) {
        const message = `could not start ${command}: ${errorText(error)}`;
        this.setStatus({ ...this.status, state: "failed", message });
        void vscode.window
          .showErrorMessage(`dscoder-lsp: ${message}`, "Open Settings", "Show Log")
          .then((choice) => {
            if (choice === "Open Settings") {
              void vscode.commands.executeCommand("workbench.action.openSettings", SECTION);
            } else if (choice === "Show Log") {
              this.output.show(true);
            }
          });
      }
      return;
    }
    this.refreshStats();
  }

  /**
   * VS Code's own partial accept, then the partial signal for what it inserted
   * (VS Code tells a provider only through a proposed API; see signals.ts).
   */
  async acceptPart(command: string): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    const document = editor?.document;
    const canMeasure = typeof document?.offsetAt === "function" && editor?.selection !== undefined;
    const before = canMeasure ? document.getText() : undefined;
    const offset = canMeasure ? document.offsetAt(editor.selection.active) : 0;
    await vscode.commands.executeCommand(command);
    if (before === undefined || !document || !editor) return;
    const after = document.getText();
    const inserted = after.length - before.length;
    if (inserted > 0 && after.startsWith(before.slice(0, offset))) {
      this.signals.didInsertPart(document.uri.toString(), after.slice(offset, offset + inserted));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client?.isRunning()) {
      try {
        await client.stop(2000);
      } catch (error) {
        this.output.warn(`stopping the server failed: ${errorText(error)}`);
      }
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async toggle(): Promise<void> {
    const enable = !this.settings.enable;
    this.settings = { ...this.settings, enable };
    this.render();
    await vscode.workspace
      .getConfiguration(SECTION)
      .update("enable", enable, vscode.ConfigurationTarget.Global);
  }

  private async toggleLanguage(languageId: string): Promise<void> {
    const languages = { ...this.settings.enableLanguages };
    languages[languageId] = !languageEnabled(this.settings, languageId);
    this.settings = { ...this.settings, enableLanguages: languages };
    this.render();
    await vscode.workspace
      .getConfiguration(SECTION)
      .update("enableLanguages", languages, vscode.ConfigurationTarget.Global);
  }

  /** Settings changed: restart for a new server command, else tell the running server. */
  async onSettingsChanged(): Promise<void> {
    const before = this.settings;
    const after = this.readSettings();
    this.settings = after;
    this.render();
    if (needsRestart(before, after)) {
      await this.restart();
    } else if (serverTreeChanged(before, after) && this.client?.isRunning()) {
      await this.client.sendNotification(DID_CHANGE_CONFIGURATION, {
        settings: { [SECTION]: serverTree(after) },
      });
      this.refreshStats();
    }
  }

  /** Asks the server for `dscoder/stats`; calls made while one is running coalesce into one more. */
  refreshStats(): void {
    if (this.statsInFlight) {
      this.statsWanted = true;
      return;
    }
    const client = this.client;
    if (!client?.isRunning()) return;
    this.statsInFlight = client
      .sendRequest<Record<string, unknown>>(STATS_REQUEST, {})
      .then(
        (stats) => {
          if (this.client === client && stats) this.setStatus(applyStats(this.status, stats));
        },
        (error: unknown) => this.output.warn(`${STATS_REQUEST} failed: ${errorText(error)}`),
      )
      .finally(() => {
        this.statsInFlight = undefined;
        if (this.statsWanted) {
          this.statsWanted = false;
          this.refreshStats();
        }
      });
  }

  /** Waits for the stats request running now, if any (tests and shutdown). */
  async settled(): Promise<void> {
    while (this.statsInFlight) await this.statsInFlight;
  }

  async showStats(): Promise<void> {
    if (!this.client?.isRunning()) {
      void vscode.window.showWarningMessage("dscoder-lsp: the server is not running");
      return;
    }
    const stats = await this.client.sendRequest<Record<string, unknown>>(STATS_REQUEST, {});
    this.setStatus(applyStats(this.status, stats));
    this.output.info(`${STATS_REQUEST}: ${JSON.stringify(stats, null, 2)}`);
    this.output.show(true);
  }

  quickActions(): Thenable<void> {
    const languageId = vscode.window.activeTextEditor?.document.languageId;
    const actions: QuickAction[] = [
      {
        label: this.settings.enable ? "$(circle-slash) Disable suggestions" : "$(check) Enable suggestions",
        run: () => this.toggle(),
      },
    ];
    if (languageId !== undefined) {
      const on = languageEnabled(this.settings, languageId);
      actions.push({
        label: `${on ? "$(circle-slash) Disable" : "$(check) Enable"} suggestions for ${languageId}`,
        run: () => this.toggleLanguage(languageId),
      });
    }
    actions.push(
      { label: "$(debug-restart) Restart server", run: () => this.restart() },
      { label: "$(output) Show log", run: () => this.output.show(true) },
      { label: "$(graph) Show statistics", run: () => this.showStats() },
      {
        label: "$(gear) Open settings",
        run: () => vscode.commands.executeCommand("workbench.action.openSettings", SECTION),
      },
    );
    return vscode.window
      .showQuickPick(actions, { title: renderStatus(this.status).tooltip.split("\n")[0] })
      .then((choice) => {
        if (choice) return Promise.resolve(choice.run()).then(() => undefined);
        return undefined;
      });
  }

  async dispose(): Promise<void> {
    await this.stop();
    for (const disposable of this.disposables.splice(0)) disposable.dispose();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

import "../stub/register";

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { beforeEach, describe, it } from "node:test";

import {
  ACCEPT_LINE,
  ACCEPT_WORD,
  type ClientLike,
  type ClientSpec,
  Controller,
  DID_CHANGE_CONFIGURATION,
  STATS_REQUEST,
  STATUS_NOTIFICATION,
} from "../../src/controller";
import type { StatusNotification } from "../../src/status";
import * as stubbed from "../stub/vscode";
import { stub } from "../stub/vscode";

const manifest = JSON.parse(
  readFileSync(path.join(__dirname, "..", "..", "..", "package.json"), "utf8"),
) as {
  contributes: {
    commands: { command: string }[];
    keybindings: { command: string; key: string }[];
    configuration: { properties: Record<string, { default: unknown }> };
  };
};

/** A language client double: records what the controller asks of it. */
class FakeClient implements ClientLike {
  running = false;
  started = 0;
  stopped = 0;
  failStart: Error | undefined;
  stats: Record<string, unknown> = {};
  requests: string[] = [];
  notifications: { method: string; params: unknown }[] = [];
  handlers = new Map<string, (params: StatusNotification) => void>();

  constructor(readonly spec: ClientSpec) {}

  start(): Promise<void> {
    this.started += 1;
    if (this.failStart) return Promise.reject(this.failStart);
    this.running = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped += 1;
    this.running = false;
    return Promise.resolve();
  }
  isRunning(): boolean {
    return this.running;
  }
  sendRequest<R>(method: string, params?: unknown): Promise<R> {
    this.requests.push(method);
    // pygls answers a request without params with Internal Error: always send them.
    assert.deepEqual(params, {}, `${method} params`);
    return Promise.resolve(this.stats as R);
  }
  sendNotification(method: string, params?: unknown): Promise<void> {
    this.notifications.push({ method, params });
    return Promise.resolve();
  }
  onNotification(method: string, handler: (params: StatusNotification) => void) {
    this.handlers.set(method, handler);
    return { dispose: () => this.handlers.delete(method) };
  }
}

function harness(prepare: (client: FakeClient) => void = () => undefined) {
  const clients: FakeClient[] = [];
  const controller = new Controller((spec) => {
    const client = new FakeClient(spec);
    prepare(client);
    clients.push(client);
    return client;
  });
  const item = () => stub.statusItems[0];
  return { controller, clients, item };
}

/** Lets queued promise callbacks (settings listeners, stats answers) run. */
async function flush(controller: Controller): Promise<void> {
  for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
  await controller.settled();
}

/** VS Code's own inline suggestion commands the manifest may bind keys to. */
const VSCODE_INLINE_COMMANDS = [
  "editor.action.inlineSuggest.trigger",
  "editor.action.inlineSuggest.showNext",
  "editor.action.inlineSuggest.showPrevious",
];

describe("controller", () => {
  beforeEach(() => stub.reset());

  it("registers every command package.json contributes, and binds keys only to them or VS Code's inline ones", async () => {
    const { controller } = harness();
    await controller.activate();
    const contributed = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual([...stub.commands.keys()].sort(), contributed);
    for (const binding of manifest.contributes.keybindings) {
      const builtin = VSCODE_INLINE_COMMANDS.includes(binding.command);
      assert.ok(builtin || stub.commands.has(binding.command), `${binding.key} -> ${binding.command}`);
    }
    await controller.dispose();
    assert.equal(stub.commands.size, 0);
  });

  it("binds Alt+\\ to trigger and Alt+] / Alt+[ to cycle (VS Code binds no trigger key)", () => {
    const keys = Object.fromEntries(
      manifest.contributes.keybindings.map((binding) => [binding.key, binding.command]),
    );
    assert.equal(keys["alt+\\"], "editor.action.inlineSuggest.trigger");
    assert.equal(keys["alt+]"], "editor.action.inlineSuggest.showNext");
    assert.equal(keys["alt+["], "editor.action.inlineSuggest.showPrevious");
  });

  it("reads every setting package.json declares, with the same defaults", () => {
    const properties = manifest.contributes.configuration.properties;
    const read: string[] = [];
    const { controller } = harness();
    stub.settings.clear();
    const original = stub.settings.get.bind(stub.settings);
    stub.settings.get = (key: string) => {
      read.push(key);
      return original(key);
    };
    try {
      // A settings change makes the controller read them all again.
      void controller.onSettingsChanged();
    } finally {
      stub.settings.get = original;
    }
    const declared = Object.keys(properties)
      .map((key) => key.replace(/^dscoder\./, ""))
      .filter((key) => key !== "trace.server"); // read by vscode-languageclient itself
    assert.deepEqual([...new Set(read)].sort(), declared.sort());
    const defaults = controller.currentSettings;
    assert.equal(properties["dscoder.maxTokens"].default, defaults.maxTokens);
    assert.equal(properties["dscoder.debounceMs"].default, defaults.debounceMs);
    assert.equal(properties["dscoder.server.path"].default, defaults.serverPath);
    assert.deepEqual(properties["dscoder.enableLanguages"].default, defaults.enableLanguages);
  });

  it("starts the server command without --stdio and passes the settings tree", async () => {
    stub.settings.set("server.path", "/opt/dscoder/bin/dscoder-lsp");
    stub.settings.set("server.args", ["-v"]);
    stub.settings.set("model.path", "/models/tiny.gguf");
    const { controller, clients } = harness();
    await controller.activate();
    assert.equal(clients.length, 1);
    const { spec } = clients[0];
    assert.equal(spec.command, "/opt/dscoder/bin/dscoder-lsp");
    assert.deepEqual(spec.args, ["-v"]);
    assert.deepEqual(spec.initializationOptions, { model: { path: "/models/tiny.gguf" } });
    assert.ok(spec.middleware.provideInlineCompletionItems);
    assert.equal(clients[0].started, 1);
    await controller.dispose();
    assert.equal(clients[0].stopped, 1);
  });

  it("delegates accept word and accept line to VS Code's partial accept", async () => {
    const { controller } = harness();
    await controller.activate();
    await stub.commands.get("dscoder.acceptWord")?.();
    await stub.commands.get("dscoder.acceptLine")?.();
    assert.deepEqual(
      stub.executed.map((e) => e.id),
      [ACCEPT_WORD, ACCEPT_LINE],
    );
    await controller.dispose();
  });

  it("after VS Code's word accept, tells the server how much of the delivered item went in", async () => {
    const { controller, clients } = harness();
    await controller.activate();
    const uri = stubbed.Uri.parse("file:///a.py");
    let text = "x = ";
    const editor = {
      document: {
        languageId: "python",
        uri,
        getText: () => text,
        offsetAt: (position: { character: number }) => position.character,
      },
      selection: { active: { line: 0, character: 4 } },
    };
    stub.activeEditor = editor;
    const item = new stubbed.InlineCompletionItem("total + 1", undefined, {
      command: "dscoder.accepted",
      title: "accepted",
      arguments: ["s-1.0"],
    });
    const provide = clients[0].spec.middleware.provideInlineCompletionItems as unknown as (
      ...args: unknown[]
    ) => Promise<unknown>;
    await provide(
      editor.document,
      new stubbed.Position(0, 4),
      { triggerKind: stubbed.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined },
      new stubbed.CancellationTokenSource().token,
      () => [item],
    );
    stub.commands.set(ACCEPT_WORD, () => {
      text = "x = total";
      editor.selection = { active: { line: 0, character: 9 } };
    });
    await stub.commands.get("dscoder.acceptWord")?.();
    const sent = clients[0].notifications.map((n) => n.method);
    assert.deepEqual(sent, ["textDocument/didShowCompletion", "textDocument/didPartiallyAcceptCompletion"]);
    const partial = clients[0].notifications[1].params as { acceptedLength: number };
    assert.equal(partial.acceptedLength, 5);
    await controller.dispose();
  });

  it("shows state, model and latency from dscoder/status and dscoder/stats", async () => {
    const { controller, clients, item } = harness((client) => {
      client.stats = { modelState: "loading", model: "tiny-dscoder", engine: "llama-cpp", lastLatencyMs: 0 };
    });
    await controller.activate();
    await flush(controller);
    assert.ok(item().visible);
    assert.equal(item().command, "dscoder.quickActions");
    assert.match(item().text, /loading~spin/);
    const client = clients[0];
    assert.deepEqual(client.requests, [STATS_REQUEST]);

    client.handlers.get(STATUS_NOTIFICATION)?.({ state: "ready", model: "tiny-dscoder", engine: "llama-cpp" });
    assert.equal(item().text, "$(sparkle) tiny-dscoder");

    // Each answer refreshes the stats (coalesced) and shows the last latency.
    client.stats = { ...client.stats, modelState: "ready", lastLatencyMs: 12.2 };
    const provide = client.spec.middleware.provideInlineCompletionItems as unknown as (
      ...args: unknown[]
    ) => Promise<unknown>;
    const source = { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) };
    await provide(
      { languageId: "python" },
      { line: 0, character: 0 },
      { triggerKind: 0 },
      source,
      () => [],
    );
    await flush(controller);
    assert.equal(item().text, "$(sparkle) tiny-dscoder · 12 ms");
    assert.equal(client.requests.length, 2);
    await controller.dispose();
  });

  it("shows excluded while an excluded document is active, and the model state otherwise", async () => {
    const { controller, clients, item } = harness((client) => {
      client.stats = { modelState: "ready", model: "tiny-dscoder" };
    });
    await controller.activate();
    await flush(controller);
    const client = clients[0];
    client.handlers.get(STATUS_NOTIFICATION)?.({ state: "ready", model: "tiny-dscoder" });
    const secret = stubbed.Uri.parse("file:///w/.env");
    client.handlers.get(STATUS_NOTIFICATION)?.({
      uri: secret.toString(),
      excluded: true,
      reason: "excluded: matches .env",
    });
    assert.equal(item().text, "$(sparkle) tiny-dscoder"); // another document is active
    stub.activeEditor = { document: { languageId: "plaintext", uri: secret } };
    stub.editorChanged.fire(stub.activeEditor);
    assert.equal(item().text, "$(lock) dscoder excluded");
    assert.match(String(item().tooltip), /matches \.env/);
    stub.activeEditor = { document: { languageId: "python", uri: stubbed.Uri.parse("file:///w/a.py") } };
    stub.editorChanged.fire(stub.activeEditor);
    assert.equal(item().text, "$(sparkle) tiny-dscoder");
    await controller.dispose();
  });

  it("toggles the enable setting and reflects it in the status bar", async () => {
    const { controller, item } = harness((client) => {
      client.stats = { modelState: "ready", model: "m" };
    });
    await controller.activate();
    await flush(controller);
    await stub.commands.get("dscoder.toggle")?.();
    await flush(controller);
    assert.deepEqual(stub.updates, [{ key: "enable", value: false, target: 1 }]);
    assert.equal(controller.currentSettings.enable, false);
    assert.match(item().text, /circle-slash/);
    await stub.commands.get("dscoder.toggle")?.();
    await flush(controller);
    assert.equal(controller.currentSettings.enable, true);
    await controller.dispose();
  });

  it("tells the server about new settings, and restarts it for a new path", async () => {
    const { controller, clients } = harness();
    await controller.activate();
    stub.changeSetting("engine.endpoint", "http://127.0.0.1:8000");
    stub.changeSetting("engine.name", "vllm");
    await flush(controller);
    assert.equal(clients.length, 1);
    const last = clients[0].notifications.at(-1);
    assert.equal(last?.method, DID_CHANGE_CONFIGURATION);
    assert.deepEqual(last?.params, {
      settings: { dscoder: { engine: { name: "vllm", endpoint: "http://127.0.0.1:8000" } } },
    });
    const sent = clients[0].notifications.length;
    stub.changeSetting("debounceMs", 10); // client-only: nothing to tell the server
    await flush(controller);
    assert.equal(clients[0].notifications.length, sent);

    stub.changeSetting("server.path", "/other/dscoder-lsp");
    await flush(controller);
    assert.equal(clients.length, 2);
    assert.equal(clients[0].stopped, 1);
    assert.equal(clients[1].spec.command, "/other/dscoder-lsp");
    assert.deepEqual(clients[1].spec.initializationOptions, {
      engine: { name: "vllm", endpoint: "http://127.0.0.1:8000" },
    });
    await controller.dispose();
  });

  it("reports a server that cannot start, and starts again on restart", async () => {
    let fail = true;
    const { controller, clients, item } = harness((client) => {
      if (fail) client.failStart = new Error("spawn dscoder-lsp ENOENT");
    });
    await controller.activate();
    assert.equal(controller.currentStatus.state, "failed");
    assert.match(item().text, /error/);
    assert.match(stub.messages[0].text, /could not start dscoder-lsp: spawn dscoder-lsp ENOENT/);
    assert.deepEqual(stub.messages[0].items, ["Open Settings", "Show Log"]);
    fail = false;
    await stub.commands.get("dscoder.restartServer")?.();
    assert.equal(clients.length, 2);
    assert.equal(clients[1].running, true);
    assert.equal(controller.currentStatus.state, "starting");
    await controller.dispose();
  });

  it("offers quick actions from the status item, per language too", async () => {
    stub.activeLanguageId = "python";
    const { controller, clients } = harness();
    await controller.activate();
    stub.pickQuickItem = (items) => items.find((i) => i.label.includes("Restart"));
    await stub.commands.get("dscoder.quickActions")?.();
    assert.equal(clients.length, 2);
    assert.ok(stub.quickPicks[0].some((label) => label.includes("for python")));
    stub.pickQuickItem = (items) => items.find((i) => i.label.includes("for python"));
    await stub.commands.get("dscoder.quickActions")?.();
    await flush(controller);
    assert.equal(controller.currentSettings.enableLanguages.python, false);
    assert.equal(controller.currentStatus.languageEnabled, false);
    await controller.dispose();
  });
});

/**
 * The shipped bundle (dist/extension.js), activated in a stubbed `vscode`,
 * with the real vscode-languageclient starting the real dscoder-lsp.
 *
 * This is as close to VS Code as this machine gets: activation, the server
 * command line (the client adds `--stdio`), the inline completion provider
 * the client registers, our middleware, the status bar fed by the server,
 * the commands, restart and shutdown. VS Code's own UI is not involved.
 */

import "../stub/register";

import assert from "node:assert/strict";
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";

import { examples, extensionSettings, positionAt, testModel } from "../protocol/server";
import * as stubbed from "../stub/vscode";

const { stub } = stubbed;
const BUNDLE = path.resolve(__dirname, "..", "..", "..", "dist", "extension.js");
const MARKER = `/tmp/dscoder-vscode-integration-${process.pid}.log`;
/** The exact answers are the test model's for each example alone: no cross-file context. */
const CONFIG = `/tmp/dscoder-vscode-integration-${process.pid}.toml`;

interface Extension {
  activate(context: { subscriptions: { dispose(): unknown }[] }): Promise<void>;
  deactivate(): Promise<void>;
}

interface InlineProvider {
  provideInlineCompletionItems(
    document: unknown,
    position: unknown,
    context: unknown,
    token: unknown,
  ): Promise<stubbed.InlineCompletionList | stubbed.InlineCompletionItem[] | null | undefined>;
}

interface CompletionProvider {
  provideCompletionItems(document: unknown, position: unknown, token: unknown, context: unknown): unknown;
}

/** Server processes started with our marker argument: pid and argv. */
function serverProcesses(): { pid: number; argv: string[] }[] {
  const found: { pid: number; ppid: number; argv: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (!argv.includes(MARKER)) continue;
      // Field 4 of stat, after the command name in parentheses.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      found.push({ pid: Number(entry), ppid, argv });
    } catch {
      // the process ended while we looked
    }
  }
  // A child the server is starting (its worker) carries the server's command
  // line between fork and exec: it is not a second server.
  const pids = new Set(found.map((server) => server.pid));
  return found.filter((server) => !pids.has(server.ppid));
}

async function until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

let opened = 0;

function openDocument(text: string, languageId: string) {
  opened += 1;
  const uri = stubbed.Uri.parse(`file:///work/integration-${opened}.${languageId === "python" ? "py" : "js"}`);
  const lines = text.split("\n");
  const document = {
    uri,
    fileName: uri.fsPath,
    languageId,
    version: 1,
    isClosed: false,
    isDirty: false,
    isUntitled: false,
    eol: 1,
    lineCount: lines.length,
    getText: () => text,
  };
  stub.textDocuments.push(document);
  stub.documentOpened.fire(document);
  return document;
}

function itemsOf(result: Awaited<ReturnType<InlineProvider["provideInlineCompletionItems"]>>) {
  if (!result) return [];
  return Array.isArray(result) ? result : result.items;
}

function invoke() {
  return { triggerKind: stubbed.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };
}

describe("the bundled extension with the real client and server", { timeout: 180_000 }, () => {
  let extension: Extension;

  before(async () => {
    stub.reset();
    const settings = extensionSettings({});
    stub.settings.set("server.path", settings.serverPath);
    writeFileSync(CONFIG, "[context.crossFile]\nenabled = false\n");
    stub.settings.set("server.args", ["--log-file", MARKER, "--config", CONFIG]);
    stub.settings.set("model.path", testModel());
    stub.settings.set("debounceMs", 20);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the bundle is loaded by path, like VS Code does
    extension = require(BUNDLE) as Extension;
    await extension.activate({ subscriptions: [] });
  });

  after(async () => {
    await extension?.deactivate();
    for (const { pid } of serverProcesses()) process.kill(pid, "SIGKILL");
    rmSync(MARKER, { force: true });
    rmSync(CONFIG, { force: true });
  });

  it("starts the configured server once, with --stdio added by the client", async () => {
    const [server] = await until("the server process", () => {
      const found = serverProcesses();
      return found.length > 0 && found;
    });
    assert.equal(server.argv.filter((arg) => arg === "--stdio").length, 1);
    assert.equal(server.argv.at(-1), "--stdio");
    assert.equal(serverProcesses().length, 1);
  });

  it("shows the model in the status bar once it is ready", async () => {
    const item = stub.statusItems[0];
    assert.ok(item.visible);
    await until("a ready status", () => item.text.startsWith("$(sparkle)"));
    assert.match(item.tooltip ?? "", /dscoder-lsp: ready/);
    assert.match(item.text, /tiny-dscoder/);
  });

  it("gives the exact ghost text through the provider the client registered", async () => {
    assert.equal(stub.inlineProviders.length, 1);
    const provider = stub.inlineProviders[0].provider as InlineProvider;
    for (const example of examples()) {
      const text = example.prefix + example.suffix;
      const position = positionAt(text, example.prefix.length);
      const document = openDocument(text, example.languageId);
      const result = await provider.provideInlineCompletionItems(
        document,
        new stubbed.Position(position.line, position.character),
        invoke(),
        new stubbed.CancellationTokenSource().token,
      );
      const items = itemsOf(result);
      // An explicit request may add alternatives; the usual answer comes first.
      assert.ok(items.length >= 1 && items.length <= 3, `${example.language} ${example.kind}`);
      assert.equal(items[0].insertText, example.middle.trimEnd());
    }
    const item = stub.statusItems[0];
    await until("a latency in the status bar", () => / ms$/.test(item.text));
  });

  it("keeps the completion fallback out of the suggest widget", async () => {
    const provider = stub.completionProviders[0]?.provider as CompletionProvider | undefined;
    assert.ok(provider, "the server advertises completion; the client registers it");
    const example = examples()[0];
    const document = openDocument(example.prefix + example.suffix, example.languageId);
    const result: unknown = await provider.provideCompletionItems(
      document,
      new stubbed.Position(0, 0),
      new stubbed.CancellationTokenSource().token,
      { triggerKind: 0 },
    );
    assert.ok(result === undefined || result === null);
  });

  it("asks nothing while toggled off, and answers again when toggled on", async () => {
    const provider = stub.inlineProviders[0].provider as InlineProvider;
    const example = examples()[0];
    const text = example.prefix + example.suffix;
    const position = positionAt(text, example.prefix.length);
    const document = openDocument(text, example.languageId);
    const ask = () =>
      provider.provideInlineCompletionItems(
        document,
        new stubbed.Position(position.line, position.character),
        invoke(),
        new stubbed.CancellationTokenSource().token,
      );
    await stub.commands.get("dscoder.toggle")?.();
    assert.equal(await ask(), null);
    assert.match(stub.statusItems[0].text, /circle-slash/);
    await stub.commands.get("dscoder.toggle")?.();
    assert.equal(itemsOf(await ask())[0]?.insertText, example.middle.trimEnd());
  });

  it("writes the server's stats to the log", async () => {
    await stub.commands.get("dscoder.showStats")?.();
    const channel = stub.channels.find((c) => c.name === "dscoder-lsp");
    const line = channel?.lines.find((l) => l.startsWith("dscoder/stats:"));
    assert.ok(line, "stats in the log");
    const stats = JSON.parse(line.slice("dscoder/stats:".length)) as Record<string, unknown>;
    assert.equal(stats.modelState, "ready");
    assert.ok(Number(stats.requests) >= 4);
  });

  it("restarts the server: a new process, the old one gone", async () => {
    const before = serverProcesses().map((p) => p.pid);
    await stub.commands.get("dscoder.restartServer")?.();
    const now = await until("a new server", () => {
      const pids = serverProcesses().map((p) => p.pid);
      return pids.length === 1 && !before.includes(pids[0]) && pids;
    });
    assert.equal(now.length, 1);
    await until("ready again", () => stub.statusItems[0].text.startsWith("$(sparkle)"));
  });

  it("stops the server on deactivate", async () => {
    await extension.deactivate();
    await until("no server left", () => serverProcesses().length === 0);
    // Nothing the client sent was rejected or failed on the server's side.
    const errors = readFileSync(MARKER, "utf8").split("\n").filter((l) => / ERROR /.test(l));
    assert.deepEqual(errors, []);
  });
});

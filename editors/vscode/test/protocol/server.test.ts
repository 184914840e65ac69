/**
 * Protocol tests against the real Python server: what the extension sends and
 * what comes back. Requests go through the extension's middleware and
 * vscode-languageclient's own converters (with the stubbed `vscode` module),
 * i.e. the path the real client takes, minus VS Code's UI.
 */

import "../stub/register";

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type * as vscode from "vscode";
import { createConverter as createCodeConverter } from "vscode-languageclient/$test/common/codeConverter";
import { createConverter as createProtocolConverter } from "vscode-languageclient/$test/common/protocolConverter";
import {
  CancellationTokenSource,
  InlineCompletionRequest,
  type InlineCompletionList,
  InlineCompletionTriggerKind as LspTriggerKind,
  LSPErrorCodes,
  ResponseError,
  TextDocumentSyncKind,
} from "vscode-languageserver-protocol/node";

import { createMiddleware } from "../../src/middleware";
import { ACCEPTED_COMMAND, AcceptanceSignals } from "../../src/signals";
import { type DscoderSettings, serverTree } from "../../src/settings";
import * as stubbed from "../stub/vscode";
import {
  type Example,
  type Server,
  examples,
  extensionSettings,
  longModel,
  positionAt,
  startServer,
  testModel,
} from "./server";

const c2p = createCodeConverter();
const p2c = createProtocolConverter(undefined, false, false, false);

type Provide = NonNullable<ReturnType<typeof createMiddleware>["provideInlineCompletionItems"]>;

let documents = 0;

/** didOpen of `text` as a new file:// document. */
async function open(server: Server, text: string, languageId: string): Promise<vscode.TextDocument> {
  documents += 1;
  const extension = languageId === "python" ? "py" : "js";
  const uri = `file:///work/vscode-test-${documents}.${extension}`;
  await server.connection.sendNotification("textDocument/didOpen", {
    textDocument: { uri, languageId, version: 1, text },
  });
  return { uri: stubbed.Uri.parse(uri), languageId } as unknown as vscode.TextDocument;
}

/** An inline completion request as the extension makes it: middleware, then the client's converters. */
async function inline(
  server: Server,
  settings: DscoderSettings,
  document: vscode.TextDocument,
  position: { line: number; character: number },
  kind: stubbed.InlineCompletionTriggerKind,
  token = new CancellationTokenSource().token,
): Promise<stubbed.InlineCompletionItem[] | null> {
  const middleware = createMiddleware({
    settings: () => settings,
    enabled: () => true,
    onAnswer: () => undefined,
    onFailure: () => undefined,
  });
  const provide = middleware.provideInlineCompletionItems as Provide;
  const result = await provide(
    document,
    new stubbed.Position(position.line, position.character) as unknown as vscode.Position,
    { triggerKind: kind, selectedCompletionInfo: undefined },
    token,
    async (doc, pos, context, tok) => {
      const params = c2p.asInlineCompletionParams(doc, pos, context);
      const answer = await server.connection.sendRequest(InlineCompletionRequest.type, params, tok);
      return p2c.asInlineCompletionResult(answer, tok);
    },
  );
  if (!result) return null;
  const list = result as unknown as stubbed.InlineCompletionList | stubbed.InlineCompletionItem[];
  return Array.isArray(list) ? list : list.items;
}

function expected(example: Example): string {
  return example.middle.trimEnd();
}

function configProblems(server: Server): string[] {
  return server.shown.map((m) => m.message).filter((m) => /configuration|unknown setting/i.test(m));
}

describe("dscoder-lsp over stdio, as the extension drives it", { timeout: 180_000 }, () => {
  let server: Server;
  let settings: DscoderSettings;

  before(async () => {
    settings = extensionSettings({ "model.path": testModel(), debounceMs: 30 });
    // The exact answers are the test model's for the example alone: other
    // examples' documents must not become its cross-file context.
    server = await startServer(settings, { context: { crossFile: { enabled: false } } });
    await server.ready;
  });

  after(async () => {
    await server?.stop();
  });

  it("initializes with the extension's settings tree and no configuration complaint", async () => {
    const capabilities = server.initializeResult.capabilities;
    assert.ok(capabilities.inlineCompletionProvider, "inline completion advertised");
    const sync = capabilities.textDocumentSync;
    assert.equal(typeof sync === "object" ? sync.change : sync, TextDocumentSyncKind.Incremental);
    assert.equal(server.initializeResult.serverInfo?.name, "dscoder-lsp");
    assert.deepEqual(configProblems(server), []);
    // What the status bar shows: the status notification and the stats agree.
    const ready = server.statuses.find((s) => s.state === "ready");
    assert.ok(ready?.model, "dscoder/status names the model");
    const stats = await server.stats();
    assert.equal(stats.modelState, "ready");
    assert.equal(stats.model, ready.model);
    assert.equal(stats.engine, "llama-cpp");
  });

  for (const example of examples()) {
    it(`completes the ${example.language} ${example.kind} example exactly (invoked)`, async () => {
      const text = example.prefix + example.suffix;
      const position = positionAt(text, example.prefix.length);
      const document = await open(server, text, example.languageId);
      const items = await inline(
        server,
        settings,
        document,
        position,
        stubbed.InlineCompletionTriggerKind.Invoke,
      );
      // An explicit request may add alternatives; the usual answer comes first.
      assert.ok(items && items.length >= 1 && items.length <= 3, `1-3 items, got ${JSON.stringify(items)}`);
      assert.equal(items[0].insertText, expected(example));
      assert.equal(new Set(items.map((item) => item.insertText)).size, items.length, "distinct");
      assert.deepEqual(items[0].range?.start, new stubbed.Position(position.line, position.character));
      assert.deepEqual(items[0].range?.end, items[0].range?.start);
    });
  }

  it("debounces a burst of automatic requests: only the last reaches the server", async () => {
    const example = examples()[0];
    const text = example.prefix + example.suffix;
    const position = positionAt(text, example.prefix.length);
    const document = await open(server, text, example.languageId);
    const requestsBefore = Number((await server.stats()).requests);
    // VS Code cancels the previous request's token when it asks again.
    const sources: CancellationTokenSource[] = [];
    const answers: Promise<stubbed.InlineCompletionItem[] | null>[] = [];
    for (let i = 0; i < 4; i += 1) {
      sources.at(-1)?.cancel();
      const source = new CancellationTokenSource();
      sources.push(source);
      answers.push(
        inline(server, settings, document, position, stubbed.InlineCompletionTriggerKind.Automatic, source.token),
      );
    }
    const results = await Promise.all(answers);
    assert.deepEqual(results.slice(0, 3), [null, null, null]);
    assert.equal(results[3]?.[0]?.insertText, expected(example));
    const requestsAfter = Number((await server.stats()).requests);
    assert.equal(requestsAfter - requestsBefore, 1);
  });

  it("sends the acceptance signals the server counts: shown, partly accepted, accepted", async () => {
    const example = examples().find((e) => e.kind === "single-line") ?? examples()[0];
    const text = example.prefix + example.suffix;
    const document = await open(server, text, example.languageId);
    const signals = new AcceptanceSignals((method, params) => {
      void server.connection.sendNotification(method, params);
    });
    const before = await server.stats();
    const items = await inline(
      server,
      settings,
      document,
      positionAt(text, example.prefix.length),
      stubbed.InlineCompletionTriggerKind.Automatic,
    );
    assert.ok(items?.length === 1);
    const [item] = items;
    // The client's converter turns the LSP command into a VS Code command with the id.
    const command = item.command as { command: string; arguments: unknown[] };
    assert.equal(command.command, ACCEPTED_COMMAND);
    signals.didDeliver(document.uri.toString(), items as unknown as vscode.InlineCompletionItem[]);
    const insert = item.insertText as string;
    const word = insert.split(/\b/)[0] || insert.slice(0, 1);
    assert.ok(signals.didInsertPart(document.uri.toString(), word));
    // What vscode-languageclient does when VS Code runs the item's command.
    await server.connection.sendRequest("workspace/executeCommand", {
      command: command.command,
      arguments: command.arguments,
    });
    const after = await server.statsWhen((now) => Number(now.accepted) > Number(before.accepted));
    assert.equal(Number(after.shown) - Number(before.shown), 1);
    assert.equal(Number(after.accepted) - Number(before.accepted), 1);
    assert.equal(
      Number(after.acceptedChars) - Number(before.acceptedChars),
      insert.length,
    );
  });

  it("sends the LSP trigger kind the server reads (Automatic = 2 on the wire)", () => {
    const params = c2p.asInlineCompletionParams(
      { uri: stubbed.Uri.parse("file:///x.py") } as unknown as vscode.TextDocument,
      new stubbed.Position(0, 0) as unknown as vscode.Position,
      {
        triggerKind: stubbed.InlineCompletionTriggerKind.Automatic,
        selectedCompletionInfo: undefined,
      },
    );
    assert.equal(params.context.triggerKind, LspTriggerKind.Automatic);
  });
});

describe("settings changes reach the server", { timeout: 180_000 }, () => {
  let server: Server | undefined;
  after(async () => {
    await server?.stop();
  });

  it("applies workspace/didChangeConfiguration with the extension's tree", async () => {
    const settings = extensionSettings({ "model.path": testModel() });
    server = await startServer(settings);
    await server.ready;
    const example = examples().find((e) => e.kind === "single-line") ?? examples()[0];
    const short = { ...settings, maxTokens: 1 };
    await server.connection.sendNotification("workspace/didChangeConfiguration", {
      settings: { dscoder: serverTree(short) },
    });
    const text = example.prefix + example.suffix;
    const document = await open(server, text, example.languageId);
    const items = await inline(
      server,
      short,
      document,
      positionAt(text, example.prefix.length),
      stubbed.InlineCompletionTriggerKind.Invoke,
    );
    const got = items?.[0]?.insertText ?? "";
    assert.equal(typeof got, "string");
    assert.ok(
      (got as string).length < expected(example).length,
      `maxTokens 1 gives a shorter completion than ${JSON.stringify(expected(example))}, got ${JSON.stringify(got)}`,
    );
    assert.ok(expected(example).startsWith((got as string).trimEnd()));
    assert.deepEqual(configProblems(server), []);
  });
});

describe("cancellation", { timeout: 180_000 }, () => {
  let server: Server | undefined;
  after(async () => {
    await server?.stop();
  });

  it("$/cancelRequest ends a running completion and dscoder/stats counts it", async () => {
    // Deterministic, not a race with the model: on this prompt SmolLM2 (greedy)
    // counts on, "# 11", "# 12", ..., and runs to maxTokens (checked with
    // `dscoder-lsp complete --json`: finishReason "length"), so its 1000 tokens
    // take seconds while the cancel is sent as soon as the engine has started.
    // No grace: the cancel stops the generation at once instead of leaving it
    // running for an adopter (cancelledGraceMs), which could let it finish.
    const maxTokens = 1000;
    const settings = extensionSettings({ "model.path": longModel() });
    server = await startServer(settings, {
      maxTokensMultiline: maxTokens,
      alternatives: 1,
      scheduler: { cancelledGraceMs: 0 },
    });
    await server.ready;
    const text = Array.from({ length: 10 }, (_, i) => `# ${i + 1}\n`).join("");
    const document = await open(server, text, "python");
    const before = await server.stats();
    const source = new CancellationTokenSource();
    // Straight over the connection: cancelling the token sends $/cancelRequest.
    const pending = server.connection.sendRequest(
      InlineCompletionRequest.type,
      c2p.asInlineCompletionParams(
        document,
        new stubbed.Position(10, 0) as unknown as vscode.Position,
        {
          triggerKind: stubbed.InlineCompletionTriggerKind.Invoke,
          selectedCompletionInfo: undefined,
        },
      ),
      source.token,
    );
    const settled = pending.then(
      (value) => ({ value, error: undefined as unknown }),
      (error: unknown) => ({ value: undefined, error }),
    );
    await server.statsWhen((now) => now.engineCalls !== before.engineCalls);
    source.cancel();
    const outcome = await settled;
    if (outcome.error !== undefined) {
      assert.ok(outcome.error instanceof ResponseError, JSON.stringify(outcome.error));
      assert.equal(outcome.error.code, LSPErrorCodes.RequestCancelled);
    } else {
      const list = outcome.value as InlineCompletionList | null;
      assert.deepEqual(list?.items ?? [], [], "a cancelled request returns nothing");
    }
    const after = await server.statsWhen((now) => Number(now.cancelled) > Number(before.cancelled));
    assert.equal(Number(after.cancelled), Number(before.cancelled) + 1);
    const generated = Number(after.generatedTokens) - Number(before.generatedTokens);
    assert.ok(generated >= 0 && generated < maxTokens, `stopped early: ${generated} tokens`);
  });
});

import "../stub/register";

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type * as vscode from "vscode";
import { CancellationTokenSource } from "vscode-languageserver-protocol";

import { createMiddleware, type MiddlewareHooks } from "../../src/middleware";
import { type DscoderSettings, readSettings } from "../../src/settings";
import * as stubbed from "../stub/vscode";

type Provide = NonNullable<ReturnType<typeof createMiddleware>["provideInlineCompletionItems"]>;
type Next = Parameters<Provide>[4];

function settings(values: Record<string, unknown> = {}): DscoderSettings {
  return readSettings(<T>(key: string, fallback: T) =>
    key in values ? (values[key] as T) : fallback,
  );
}

function setup(values: Record<string, unknown> = {}, enabled = true) {
  const answers: { latencyMs: number; items: number }[] = [];
  const failures: unknown[] = [];
  const delivered: { uri: string; items: number }[] = [];
  let clock = 0;
  const hooks: MiddlewareHooks = {
    settings: () => settings(values),
    enabled: () => enabled,
    onAnswer: (latencyMs, items) => answers.push({ latencyMs, items }),
    onFailure: (error) => failures.push(error),
    onDelivered: (uri, items) => delivered.push({ uri, items: items.length }),
    now: () => (clock += 10),
  };
  const middleware = createMiddleware(hooks);
  const provide = middleware.provideInlineCompletionItems as Provide;
  return { middleware, provide, answers, failures, delivered };
}

const document = { languageId: "python", uri: stubbed.Uri.parse("file:///a.py") } as unknown as vscode.TextDocument;
const position = new stubbed.Position(1, 4) as unknown as vscode.Position;

function context(kind: stubbed.InlineCompletionTriggerKind): vscode.InlineCompletionContext {
  return { triggerKind: kind, selectedCompletionInfo: undefined };
}

function recordingNext(result: unknown = [new stubbed.InlineCompletionItem("x = 1")]) {
  const calls: vscode.InlineCompletionContext[] = [];
  const next: Next = (_document, _position, ctx) => {
    calls.push(ctx);
    return result as vscode.InlineCompletionItem[];
  };
  return { next, calls };
}

describe("inline completion middleware", () => {
  it("passes an invoked request on at once with VS Code's context untouched", async () => {
    const { provide, answers } = setup({ debounceMs: 60_000 });
    const { next, calls } = recordingNext();
    const ctx = context(stubbed.InlineCompletionTriggerKind.Invoke);
    const result = await provide(document, position, ctx, new CancellationTokenSource().token, next);
    assert.equal(calls.length, 1);
    assert.equal(calls[0], ctx);
    assert.equal(calls[0].triggerKind, 0);
    assert.equal((result as vscode.InlineCompletionItem[]).length, 1);
    assert.deepEqual(answers, [{ latencyMs: 10, items: 1 }]);
  });

  it("debounces automatic requests and drops those VS Code cancels meanwhile", async () => {
    const { provide, answers } = setup({ debounceMs: 60_000 });
    const { next, calls } = recordingNext();
    const source = new CancellationTokenSource();
    const ctx = context(stubbed.InlineCompletionTriggerKind.Automatic);
    const pending = provide(document, position, ctx, source.token, next);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 0, "nothing is sent during the debounce");
    source.cancel();
    assert.equal(await pending, null);
    assert.equal(calls.length, 0);
    assert.deepEqual(answers, []);
  });

  it("sends an automatic request after the debounce", async () => {
    const { provide } = setup({ debounceMs: 1 });
    const { next, calls } = recordingNext(new stubbed.InlineCompletionList([]));
    const ctx = context(stubbed.InlineCompletionTriggerKind.Automatic);
    await provide(document, position, ctx, new CancellationTokenSource().token, next);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].triggerKind, 1);
  });

  it("asks nothing when suggestions are off, globally or for the language", async () => {
    for (const [values, enabled] of [
      [{}, false],
      [{ enable: false }, true],
      [{ enableLanguages: { "*": true, python: false } }, true],
    ] as const) {
      const { provide } = setup(values, enabled);
      const { next, calls } = recordingNext();
      const ctx = context(stubbed.InlineCompletionTriggerKind.Invoke);
      assert.equal(await provide(document, position, ctx, new CancellationTokenSource().token, next), null);
      assert.equal(calls.length, 0);
    }
  });

  it("reports a failed request and rethrows it", async () => {
    const { provide, failures } = setup();
    const error = new stubbed.CancellationError();
    const next: Next = () => Promise.reject(error);
    const ctx = context(stubbed.InlineCompletionTriggerKind.Invoke);
    await assert.rejects(
      Promise.resolve(provide(document, position, ctx, new CancellationTokenSource().token, next)),
      (thrown) => thrown === error,
    );
    assert.deepEqual(failures, [error]);
  });

  it("hands delivered items to the acceptance signals, not empty or cancelled answers", async () => {
    const { provide, delivered } = setup();
    const ctx = context(stubbed.InlineCompletionTriggerKind.Invoke);
    await provide(document, position, ctx, new CancellationTokenSource().token, recordingNext().next);
    await provide(
      document,
      position,
      ctx,
      new CancellationTokenSource().token,
      recordingNext(new stubbed.InlineCompletionList([])).next,
    );
    const source = new CancellationTokenSource();
    const cancelling: Next = () => {
      source.cancel();
      return [new stubbed.InlineCompletionItem("late")] as unknown as vscode.InlineCompletionItem[];
    };
    await provide(document, position, ctx, source.token, cancelling);
    assert.deepEqual(delivered, [{ uri: "file:///a.py", items: 1 }]);
  });

  it("keeps the completion fallback out of VS Code's suggest widget", () => {
    const { middleware } = setup();
    const provideCompletion = middleware.provideCompletionItem as () => unknown;
    assert.equal(provideCompletion(), undefined);
  });
});

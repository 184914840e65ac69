import "../stub/register";

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type * as vscode from "vscode";
import { createConverter as createCodeConverter } from "vscode-languageclient/$test/common/codeConverter";
import { createConverter as createProtocolConverter } from "vscode-languageclient/$test/common/protocolConverter";
import { InlineCompletionTriggerKind as LspTriggerKind } from "vscode-languageserver-protocol";

import * as stubbed from "../stub/vscode";

// The converters vscode-languageclient uses between VS Code and the wire: the
// middleware passes VS Code's context through, so the wire trigger kind is theirs.
const c2p = createCodeConverter();
const p2c = createProtocolConverter(undefined, false, false, false);

const document = {
  uri: stubbed.Uri.parse("file:///work/a.py"),
  languageId: "python",
} as unknown as vscode.TextDocument;

describe("vscode-languageclient inline completion converters", () => {
  it("map VS Code's trigger kinds to LSP's", () => {
    const convert = (kind: stubbed.InlineCompletionTriggerKind) =>
      c2p.asInlineCompletionParams(
        document,
        new stubbed.Position(2, 4) as unknown as vscode.Position,
        { triggerKind: kind, selectedCompletionInfo: undefined },
      );
    const invoked = convert(stubbed.InlineCompletionTriggerKind.Invoke);
    assert.equal(invoked.context.triggerKind, LspTriggerKind.Invoked);
    assert.equal(invoked.context.triggerKind, 1);
    assert.equal(convert(stubbed.InlineCompletionTriggerKind.Automatic).context.triggerKind, 2);
    assert.deepEqual(invoked.position, { line: 2, character: 4 });
    assert.equal(invoked.textDocument.uri, "file:///work/a.py");
  });

  it("turn the server's list into VS Code items with the range", async () => {
    const result = await p2c.asInlineCompletionResult({
      items: [
        {
          insertText: "level = height + step",
          range: { start: { line: 1, character: 4 }, end: { line: 1, character: 4 } },
        },
      ],
    });
    assert.ok(result instanceof stubbed.InlineCompletionList);
    const item = (result as unknown as stubbed.InlineCompletionList).items[0];
    assert.equal(item.insertText, "level = height + step");
    assert.deepEqual(item.range?.start, new stubbed.Position(1, 4));
  });
});

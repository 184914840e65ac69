import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ACCEPTED_COMMAND, AcceptanceSignals, DID_PARTIALLY_ACCEPT, DID_SHOW } from "../../src/signals";

function item(text: string, id: string) {
  return { insertText: text, command: { command: ACCEPTED_COMMAND, title: "accepted", arguments: [id] } };
}

function setup() {
  const sent: { method: string; params: unknown }[] = [];
  const signals = new AcceptanceSignals((method, params) => sent.push({ method, params }));
  return { signals, sent };
}

describe("acceptance signals", () => {
  it("reports the first delivered item as shown, in Copilot's shape", () => {
    const { signals, sent } = setup();
    signals.didDeliver("file:///a.py", [item("a + b", "s-1.0"), item("a - b", "s-1.1")]);
    assert.deepEqual(sent, [
      { method: DID_SHOW, params: { item: { insertText: "a + b", command: item("", "s-1.0").command } } },
    ]);
  });

  it("ignores items that are not the server's (another provider's)", () => {
    const { signals, sent } = setup();
    signals.didDeliver("file:///a.py", [{ insertText: "x" }]);
    signals.didShow({ insertText: "x" });
    assert.deepEqual(sent, []);
  });

  it("sends the running accepted length of the item that continues with the inserted text", () => {
    const { signals, sent } = setup();
    signals.didDeliver("file:///a.py", [item("result = a", "s-2.0"), item("total = a", "s-2.1")]);
    assert.ok(signals.didInsertPart("file:///a.py", "total "));
    assert.ok(signals.didInsertPart("file:///a.py", "= "));
    assert.ok(!signals.didInsertPart("file:///a.py", "zzz"), "text from no item is not reported");
    assert.ok(!signals.didInsertPart("file:///b.py", "total"), "another document has no items");
    const partial = sent.filter((s) => s.method === DID_PARTIALLY_ACCEPT);
    assert.deepEqual(
      partial.map((s) => (s.params as { acceptedLength: number }).acceptedLength),
      [6, 8],
    );
    const [first] = partial;
    assert.deepEqual((first.params as { item: { command: { arguments: string[] } } }).item.command.arguments, ["s-2.1"]);
  });

  it("counts UTF-16 code units, as VS Code and the server do", () => {
    const { signals, sent } = setup();
    signals.didDeliver("file:///a.py", [item("😀 ok", "s-3.0")]);
    signals.didInsertPart("file:///a.py", "😀 ");
    assert.equal((sent.at(-1)?.params as { acceptedLength: number }).acceptedLength, 3);
  });
});

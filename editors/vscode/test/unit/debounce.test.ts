import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { CancellationTokenSource } from "vscode-languageserver-protocol";

import { waitUnlessCancelled } from "../../src/debounce";

describe("waitUnlessCancelled", () => {
  it("is true once the wait is over", async () => {
    const source = new CancellationTokenSource();
    assert.equal(await waitUnlessCancelled(5, source.token), true);
  });

  it("is false at once when cancelled during the wait", async () => {
    const source = new CancellationTokenSource();
    const started = Date.now();
    const waiting = waitUnlessCancelled(60_000, source.token);
    source.cancel();
    assert.equal(await waiting, false);
    assert.ok(Date.now() - started < 30_000, "the cancelled wait returned early");
  });

  it("is false for a token cancelled before, and true without waiting for 0 ms", async () => {
    const source = new CancellationTokenSource();
    source.cancel();
    assert.equal(await waitUnlessCancelled(60_000, source.token), false);
    assert.equal(await waitUnlessCancelled(0, new CancellationTokenSource().token), true);
  });
});

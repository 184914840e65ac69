import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  applyStats,
  applyStatusNotification,
  initialStatus,
  renderStatus,
} from "../../src/status";

describe("status model", () => {
  it("follows dscoder/status notifications", () => {
    let status = applyStatusNotification(initialStatus(), {
      state: "loading",
      model: "/models/tiny-dscoder.gguf",
      engine: "llama-cpp",
      message: "",
    });
    assert.equal(status.state, "loading");
    assert.match(renderStatus(status).text, /loading~spin/);
    status = applyStatusNotification(status, { state: "ready", model: "tiny-dscoder" });
    assert.equal(status.state, "ready");
    assert.equal(status.engine, "llama-cpp");
    status = applyStatusNotification(status, { state: "bogus" });
    assert.equal(status.state, "ready");
  });

  it("takes model, state and last latency from dscoder/stats", () => {
    const status = applyStats(initialStatus(), {
      modelState: "ready",
      model: "tiny-dscoder",
      engine: "llama-cpp",
      lastLatencyMs: 41.6,
      requests: 3,
      cancelled: 1,
    });
    const rendered = renderStatus(status);
    assert.equal(rendered.text, "$(sparkle) tiny-dscoder · 42 ms");
    assert.match(rendered.tooltip, /Model: tiny-dscoder \(llama-cpp\)/);
    assert.match(rendered.tooltip, /Last latency: 42 ms/);
    assert.equal(status.cancelled, 1);
    // A stats answer before any completion keeps the last latency seen.
    assert.equal(applyStats(status, { lastLatencyMs: 0 }).lastLatencyMs, 41.6);
  });

  it("shows failures and disabled states", () => {
    const failed = renderStatus({ ...initialStatus(), state: "failed", message: "no model" });
    assert.equal(failed.severity, "error");
    assert.match(failed.tooltip, /no model/);
    const off = renderStatus({ ...initialStatus(), state: "ready", enabled: false });
    assert.match(off.text, /circle-slash/);
    assert.match(off.tooltip, /off/);
    const language = renderStatus({ ...initialStatus(), state: "ready", languageEnabled: false });
    assert.match(language.tooltip, /off for this language/);
  });
});

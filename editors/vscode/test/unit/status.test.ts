import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  applyStats,
  applyStatusNotification,
  excludedNotice,
  initialStatus,
  renderStatus,
  replicaLabel,
} from "../../src/status";

describe("status model", () => {
  it("names the replica that served the last request in the tooltip", () => {
    let status = applyStatusNotification(initialStatus(), {
      state: "ready",
      model: "smollm2",
      engine: "openai",
      message: "",
      endpoint: null,
      endpointCount: 0,
    });
    assert.doesNotMatch(renderStatus(status).tooltip, /Served by/);
    status = applyStatusNotification(status, {
      state: "ready",
      model: "smollm2",
      engine: "openai",
      message: "",
      endpoint: "http://10.0.0.7:8001/v1",
      endpointCount: 2,
    });
    const rendered = renderStatus(status);
    assert.match(rendered.tooltip, /^Served by: 10\.0\.0\.7:8001 \(one of 2 replicas\)$/m);
    assert.equal(rendered.text, "$(sparkle) smollm2");
    // A state change without the field (an older server) keeps it; a new engine clears it.
    status = applyStatusNotification(status, { state: "ready", model: "smollm2" });
    assert.equal(status.endpoint, "http://10.0.0.7:8001/v1");
    status = applyStatusNotification(status, { state: "loading", endpoint: null, endpointCount: 0 });
    assert.equal(status.endpoint, null);
    assert.doesNotMatch(renderStatus(status).tooltip, /Served by/);
  });

  it("labels a replica by host and port, and one endpoint without a count", () => {
    assert.equal(replicaLabel("https://gpu-2.example:8443/v1"), "gpu-2.example:8443");
    assert.equal(replicaLabel("not a url"), "not a url");
    const status = applyStats(initialStatus(), {
      modelState: "ready",
      lastEndpoint: "http://127.0.0.1:8000/v1",
      endpoints: [{ url: "http://127.0.0.1:8000/v1" }],
    });
    assert.match(renderStatus(status).tooltip, /^Served by: 127\.0\.0\.1:8000$/m);
  });

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

  it("shows restarting while the worker comes back, then ready", () => {
    let status = applyStatusNotification(initialStatus(), { state: "ready", model: "m" });
    status = applyStatusNotification(status, {
      state: "restarting",
      message: "the llama.cpp worker crashed (SIGSEGV); restarting it",
    });
    assert.equal(status.state, "restarting");
    const rendered = renderStatus(status);
    assert.equal(rendered.text, "$(sync~spin) dscoder restarting");
    assert.equal(rendered.severity, "warning");
    assert.match(rendered.tooltip, /SIGSEGV/);
    assert.equal(applyStatusNotification(status, { state: "ready" }).state, "ready");
  });

  it("says failed and points to dscoder-lsp doctor", () => {
    const status = applyStatusNotification(initialStatus(), {
      state: "failed",
      message: "model file not found: /m.gguf",
    });
    const rendered = renderStatus(status);
    assert.equal(rendered.text, "$(error) dscoder failed");
    assert.equal(rendered.severity, "error");
    assert.match(rendered.tooltip, /model file not found/);
    assert.match(rendered.tooltip, /dscoder-lsp doctor/);
    // stats agree with the notification
    assert.equal(applyStats(initialStatus(), { modelState: "restarting" }).state, "restarting");
  });

  it("keeps per-document excluded notices out of the model state", () => {
    const params = { uri: "file:///w/.env", excluded: true, reason: "excluded: matches .env" };
    assert.deepEqual(excludedNotice(params), { uri: "file:///w/.env", reason: "excluded: matches .env" });
    assert.equal(excludedNotice({ state: "ready" }), undefined);
    assert.equal(excludedNotice({ uri: "file:///w/a.py", excluded: false }), undefined);
    const ready = applyStatusNotification(initialStatus(), { state: "ready", model: "m" });
    assert.deepEqual(applyStatusNotification(ready, params), ready);
  });

  it("shows excluded for an excluded active document, unless the engine failed", () => {
    const ready = { ...initialStatus(), state: "ready" as const, model: "m" };
    const excluded = renderStatus({ ...ready, excluded: "excluded: matches .env" });
    assert.equal(excluded.text, "$(lock) dscoder excluded");
    assert.match(excluded.tooltip, /no suggestions: excluded: matches \.env/);
    const failed = renderStatus({ ...ready, state: "failed", excluded: "excluded: matches .env" });
    assert.equal(failed.text, "$(error) dscoder failed");
  });
});

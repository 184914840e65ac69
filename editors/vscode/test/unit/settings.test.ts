import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  type DscoderSettings,
  expandPath,
  languageEnabled,
  needsRestart,
  readSettings,
  serverCommand,
  serverTree,
  serverTreeChanged,
} from "../../src/settings";

function settingsFrom(values: Record<string, unknown>): DscoderSettings {
  return readSettings(<T>(key: string, fallback: T) =>
    key in values ? (values[key] as T) : fallback,
  );
}

describe("readSettings", () => {
  it("gives the package.json defaults when nothing is set", () => {
    const settings = settingsFrom({});
    assert.equal(settings.enable, true);
    assert.equal(settings.serverPath, "dscoder-lsp");
    assert.deepEqual(settings.serverArgs, []);
    assert.equal(settings.maxTokens, null);
    assert.equal(settings.debounceMs, 0);
    assert.equal(settings.enableLanguages.markdown, false);
  });

  it("falls back on values of the wrong type and clamps numbers", () => {
    const settings = settingsFrom({
      enable: "yes",
      "server.path": "   ",
      "server.args": ["-v", 3, "--log-file", null],
      maxTokens: 0,
      debounceMs: "fast",
      enableLanguages: ["python"],
    });
    assert.equal(settings.enable, true);
    assert.equal(settings.serverPath, "dscoder-lsp");
    assert.deepEqual(settings.serverArgs, ["-v", "--log-file"]);
    assert.equal(settings.maxTokens, 1);
    assert.equal(settings.debounceMs, 0);
    assert.equal(settings.enableLanguages["*"], true);
  });
});

describe("languageEnabled", () => {
  it("uses the language's own entry, else '*'", () => {
    const settings = settingsFrom({ enableLanguages: { "*": false, python: true } });
    assert.equal(languageEnabled(settings, "python"), true);
    assert.equal(languageEnabled(settings, "rust"), false);
    const defaults = settingsFrom({});
    assert.equal(languageEnabled(defaults, "markdown"), false);
    assert.equal(languageEnabled(defaults, "javascript"), true);
  });
});

describe("serverTree", () => {
  it("nests camelCase sections as lsp/config.py expects and leaves out empty values", () => {
    assert.deepEqual(serverTree(settingsFrom({})), {});
    const tree = serverTree(
      settingsFrom({
        "model.path": "/models/a.gguf",
        "engine.name": "vllm",
        "engine.endpoint": "http://127.0.0.1:8000",
        "model.name": "deepseek-coder",
        maxTokens: 32,
      }),
    );
    assert.deepEqual(tree, {
      maxTokens: 32,
      model: { path: "/models/a.gguf", name: "deepseek-coder" },
      engine: { name: "vllm", endpoint: "http://127.0.0.1:8000" },
    });
  });

  it("never carries client-only settings to the server", () => {
    const tree = serverTree(
      settingsFrom({ debounceMs: 10, enable: false, "server.path": "/x", maxTokens: 12 }),
    );
    assert.deepEqual(Object.keys(tree), ["maxTokens"]);
  });
});

describe("server command", () => {
  it("expands ~ and ${workspaceFolder} and does not add --stdio", () => {
    assert.equal(expandPath("~/bin/dscoder-lsp", "/home/u"), "/home/u/bin/dscoder-lsp");
    assert.equal(expandPath("~other/x", "/home/u"), "~other/x");
    const command = serverCommand(
      settingsFrom({
        "server.path": "${workspaceFolder}/.venv/bin/dscoder-lsp",
        "server.args": ["--log-file", "~/dscoder.log"],
      }),
      "/home/u",
      "/repo",
    );
    assert.deepEqual(command, {
      command: "/repo/.venv/bin/dscoder-lsp",
      args: ["--log-file", "/home/u/dscoder.log"],
    });
  });

  it("restarts only for a new command line, reconfigures for a new tree", () => {
    const base = settingsFrom({});
    assert.equal(needsRestart(base, settingsFrom({ "server.path": "/other" })), true);
    assert.equal(needsRestart(base, settingsFrom({ "server.args": ["-v"] })), true);
    assert.equal(needsRestart(base, settingsFrom({ "model.path": "/m.gguf" })), false);
    // Clearing a setting the server got at initialize needs a fresh start.
    assert.equal(needsRestart(settingsFrom({ "model.path": "/m.gguf" }), base), true);
    assert.equal(needsRestart(settingsFrom({ maxTokens: 8 }), base), true);
    assert.equal(needsRestart(settingsFrom({ maxTokens: 8 }), settingsFrom({ maxTokens: 9 })), false);
    assert.equal(serverTreeChanged(base, settingsFrom({ "model.path": "/m.gguf" })), true);
    assert.equal(serverTreeChanged(base, settingsFrom({ debounceMs: 5 })), false);
  });
});

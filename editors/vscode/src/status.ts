/**
 * What the status bar item shows: state, model and last latency.
 *
 * `StatusModel` is fed by the server's `dscoder/status` notification, its
 * `dscoder/stats` request and the client's own lifecycle. The states match
 * the Neovim plugin's statusline: loading, ready, restarting, failed
 * (pointing to `dscoder-lsp doctor`), and excluded for an excluded active
 * document. The server's `$/progress` for the load is shown by
 * vscode-languageclient itself (VS Code's window progress), so it is not
 * repeated here. With remote replicas the tooltip names the one that served
 * the last request, pushed by the server only when it changes. `renderStatus`
 * turns it into text and tooltip. No `vscode` import, so it is unit-tested
 * directly; the extension copies the result onto a `StatusBarItem`.
 */

export type ServerState = "starting" | "loading" | "ready" | "restarting" | "failed" | "stopped";

export interface StatusModel {
  state: ServerState;
  enabled: boolean;
  languageEnabled: boolean;
  model: string;
  engine: string;
  message: string;
  lastLatencyMs: number | null;
  requests: number;
  cancelled: number;
  /** Why the active document is excluded (a per-document `dscoder/status`), or null. */
  excluded: string | null;
  /** The replica that served the last request (remote engines), or null. */
  endpoint: string | null;
  /** How many endpoints the engine has (0: unknown or local). */
  endpointCount: number;
}

export function initialStatus(): StatusModel {
  return {
    state: "starting",
    enabled: true,
    languageEnabled: true,
    model: "",
    engine: "",
    message: "",
    lastLatencyMs: null,
    requests: 0,
    cancelled: 0,
    excluded: null,
    endpoint: null,
    endpointCount: 0,
  };
}

/** `dscoder/status` params (see docs/protocol.md). */
export interface StatusNotification {
  state?: unknown;
  model?: unknown;
  engine?: unknown;
  message?: unknown;
  /** The replica that served the last request; null: none yet (a new engine). */
  endpoint?: unknown;
  endpointCount?: unknown;
  /** A per-document notice: `{uri, excluded: true, reason}` (no `state`). */
  uri?: unknown;
  excluded?: unknown;
  reason?: unknown;
}

/** The URI and reason of a per-document "excluded" notice, or undefined for a model state. */
export function excludedNotice(
  params: StatusNotification,
): { uri: string; reason: string } | undefined {
  const uri = str(params.uri);
  if (params.excluded !== true || uri === undefined) return undefined;
  return { uri, reason: str(params.reason) || "excluded" };
}

const MODEL_STATES: Record<string, ServerState> = {
  loading: "loading",
  ready: "ready",
  restarting: "restarting",
  failed: "failed",
};

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Applies a `dscoder/status` notification. */
export function applyStatusNotification(
  status: StatusModel,
  params: StatusNotification,
): StatusModel {
  if (excludedNotice(params) !== undefined) return status; // never a model state
  const state = MODEL_STATES[str(params.state) ?? ""];
  return {
    ...status,
    state: state ?? status.state,
    model: str(params.model) || status.model,
    engine: str(params.engine) || status.engine,
    message: str(params.message) ?? status.message,
    // Absent (an older server): keep what is known; null: a new engine served nothing yet.
    endpoint: "endpoint" in params ? (str(params.endpoint) ?? null) : status.endpoint,
    endpointCount: num(params.endpointCount) ?? status.endpointCount,
  };
}

/** Applies a `dscoder/stats` result. */
export function applyStats(status: StatusModel, stats: Record<string, unknown>): StatusModel {
  const state = MODEL_STATES[str(stats.modelState) ?? ""];
  const latency = num(stats.lastLatencyMs);
  return {
    ...status,
    state: state ?? status.state,
    model: str(stats.model) || status.model,
    engine: str(stats.engine) || status.engine,
    message: str(stats.modelMessage) ?? status.message,
    lastLatencyMs: latency !== undefined && latency > 0 ? latency : status.lastLatencyMs,
    requests: num(stats.requests) ?? status.requests,
    cancelled: num(stats.cancelled) ?? status.cancelled,
    endpoint: str(stats.lastEndpoint) ?? status.endpoint,
    endpointCount: Array.isArray(stats.endpoints) ? stats.endpoints.length : status.endpointCount,
  };
}

export interface RenderedStatus {
  text: string;
  tooltip: string;
  /** `error` and `warning` map to the status bar's background colours. */
  severity: "normal" | "warning" | "error";
}

/** `host:port` of an endpoint URL (the part that tells replicas apart), else the URL. */
export function replicaLabel(endpoint: string): string {
  try {
    return new URL(endpoint).host || endpoint;
  } catch {
    return endpoint;
  }
}

function shortModel(model: string): string {
  const base = model.split(/[\\/]/).pop() ?? model;
  return base.replace(/\.gguf$/i, "");
}

export function renderStatus(status: StatusModel): RenderedStatus {
  const model = shortModel(status.model);
  const latency = status.lastLatencyMs === null ? "" : `${Math.round(status.lastLatencyMs)} ms`;
  const lines = [`dscoder-lsp: ${status.state}`];
  if (model) lines.push(`Model: ${model}${status.engine ? ` (${status.engine})` : ""}`);
  if (latency) lines.push(`Last latency: ${latency}`);
  if (status.endpoint) {
    const of = status.endpointCount > 1 ? ` (one of ${status.endpointCount} replicas)` : "";
    lines.push(`Served by: ${replicaLabel(status.endpoint)}${of}`);
  }
  if (status.message && status.state !== "ready") lines.push(status.message);
  if (status.state === "failed") lines.push("Run `dscoder-lsp doctor` in a terminal to see why");
  if (status.excluded) lines.push(`This file gets no suggestions: ${status.excluded}`);
  if (!status.enabled) lines.push("Inline suggestions are off");
  else if (!status.languageEnabled) lines.push("Inline suggestions are off for this language");
  lines.push("Click for actions");
  const tooltip = lines.join("\n");

  if (status.state === "failed" || status.state === "stopped") {
    return { text: `$(error) dscoder ${status.state}`, tooltip, severity: "error" };
  }
  if (status.state === "restarting") {
    return { text: "$(sync~spin) dscoder restarting", tooltip, severity: "warning" };
  }
  if (status.excluded) {
    return { text: "$(lock) dscoder excluded", tooltip, severity: "normal" };
  }
  if (status.state === "starting" || status.state === "loading") {
    return { text: `$(loading~spin) dscoder${model ? ` ${model}` : ""}`, tooltip, severity: "normal" };
  }
  if (!status.enabled || !status.languageEnabled) {
    return { text: `$(circle-slash) dscoder${model ? ` ${model}` : ""}`, tooltip, severity: "warning" };
  }
  const parts = [model, latency].filter((part) => part !== "");
  return {
    text: `$(sparkle) ${parts.length > 0 ? parts.join(" · ") : "dscoder"}`,
    tooltip,
    severity: "normal",
  };
}

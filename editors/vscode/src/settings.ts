/**
 * The extension's settings (`dscoder.*` in VS Code) and their translation
 * into the server's configuration tree.
 *
 * This module has no `vscode` import: the extension reads values through a
 * getter, and the tests (unit and protocol) call the same functions.
 */

/** Everything the extension reads from `dscoder.*`. */
export interface DscoderSettings {
  enable: boolean;
  enableLanguages: Record<string, boolean>;
  serverPath: string;
  serverArgs: string[];
  engineName: string;
  engineEndpoint: string;
  modelPath: string;
  modelName: string;
  /** null: the server decides (its config file, DSCODER_MAX_TOKENS, or 64). */
  maxTokens: number | null;
  debounceMs: number;
}

/** Reads one setting by its key below `dscoder.`, with a fallback. */
export type SettingGetter = <T>(key: string, fallback: T) => T;

export const DEFAULT_LANGUAGES: Record<string, boolean> = {
  "*": true,
  plaintext: false,
  markdown: false,
  scminput: false,
};

function text(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value.trim() : fallback;
}

function whole<F extends number | null>(value: unknown, fallback: F, minimum: number): number | F {
  return typeof value === "number" && Number.isFinite(value)
    ? Math.max(minimum, Math.floor(value))
    : fallback;
}

/** Reads and sanitises the settings; wrong types fall back to defaults. */
export function readSettings(get: SettingGetter): DscoderSettings {
  const languages = get<unknown>("enableLanguages", DEFAULT_LANGUAGES);
  const args = get<unknown>("server.args", []);
  return {
    enable: get<unknown>("enable", true) !== false,
    enableLanguages:
      languages !== null && typeof languages === "object" && !Array.isArray(languages)
        ? Object.fromEntries(
            Object.entries(languages as Record<string, unknown>).map(([k, v]) => [k, v !== false]),
          )
        : { ...DEFAULT_LANGUAGES },
    serverPath: text(get<unknown>("server.path", "dscoder-lsp"), "dscoder-lsp") || "dscoder-lsp",
    serverArgs: Array.isArray(args) ? args.filter((a): a is string => typeof a === "string") : [],
    engineName: text(get<unknown>("engine.name", "")),
    engineEndpoint: text(get<unknown>("engine.endpoint", "")),
    modelPath: text(get<unknown>("model.path", "")),
    modelName: text(get<unknown>("model.name", "")),
    maxTokens: whole(get<unknown>("maxTokens", null), null, 1),
    debounceMs: whole(get<unknown>("debounceMs", 0), 0, 0),
  };
}

/** Whether suggestions are wanted in documents of `languageId`. */
export function languageEnabled(settings: DscoderSettings, languageId: string): boolean {
  const map = settings.enableLanguages;
  if (Object.prototype.hasOwnProperty.call(map, languageId)) {
    return map[languageId] !== false;
  }
  return map["*"] !== false;
}

/**
 * The server's configuration tree (camelCase, as `initializationOptions` and
 * `workspace/didChangeConfiguration` take it; see lsp/config.py). Empty
 * settings are left out so the server's own defaults apply.
 */
export function serverTree(settings: DscoderSettings): Record<string, unknown> {
  const tree: Record<string, unknown> = {};
  if (settings.maxTokens !== null) tree.maxTokens = settings.maxTokens;
  const model: Record<string, string> = {};
  if (settings.modelPath) model.path = settings.modelPath;
  if (settings.modelName) model.name = settings.modelName;
  if (Object.keys(model).length > 0) tree.model = model;
  const engine: Record<string, string> = {};
  if (settings.engineName) engine.name = settings.engineName;
  if (settings.engineEndpoint) engine.endpoint = settings.engineEndpoint;
  if (Object.keys(engine).length > 0) tree.engine = engine;
  return tree;
}

/** Expands `~` and `${workspaceFolder}` in a path setting. */
export function expandPath(path: string, home: string, workspaceFolder?: string): string {
  let result = path;
  if (workspaceFolder !== undefined) {
    result = result.split("${workspaceFolder}").join(workspaceFolder);
  }
  if (result === "~" || result.startsWith("~/")) {
    result = home + result.slice(1);
  }
  return result;
}

/** The server command line, without `--stdio` (the client adds it). */
export function serverCommand(
  settings: DscoderSettings,
  home: string,
  workspaceFolder?: string,
): { command: string; args: string[] } {
  return {
    command: expandPath(settings.serverPath, home, workspaceFolder),
    args: settings.serverArgs.map((arg) => expandPath(arg, home, workspaceFolder)),
  };
}

function leafPaths(tree: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([key, value]) =>
    value !== null && typeof value === "object"
      ? leafPaths(value as Record<string, unknown>, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  );
}

/**
 * Whether a settings change needs a new server process, not just new config:
 * a new command line, or a setting cleared (the server would otherwise keep
 * the value it got in initializationOptions).
 */
export function needsRestart(before: DscoderSettings, after: DscoderSettings): boolean {
  const kept = new Set(leafPaths(serverTree(after)));
  return (
    before.serverPath !== after.serverPath ||
    JSON.stringify(before.serverArgs) !== JSON.stringify(after.serverArgs) ||
    leafPaths(serverTree(before)).some((key) => !kept.has(key))
  );
}

/** Whether a settings change alters what the server is told. */
export function serverTreeChanged(before: DscoderSettings, after: DscoderSettings): boolean {
  return JSON.stringify(serverTree(before)) !== JSON.stringify(serverTree(after));
}

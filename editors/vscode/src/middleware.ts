/**
 * Language client middleware: where the extension sits between VS Code's
 * inline completion requests and the server.
 *
 * Inline completions: dropped when suggestions are off (globally or for the
 * language), debounced when automatic (never when invoked by the user), then
 * passed on with VS Code's context untouched, so the client's converter maps
 * the trigger kind (VS Code `Invoke`=0/`Automatic`=1 to LSP `Invoked`=1/
 * `Automatic`=2). Each answer is timed and reported for the status bar, and
 * its items go to the acceptance signals (signals.ts).
 *
 * Completion items: the server's `textDocument/completion` fallback exists
 * for editors without ghost text; VS Code has it, so the suggest widget never
 * asks (the request is not sent).
 */

import * as vscode from "vscode";
import type { Middleware } from "vscode-languageclient/node";

import { waitUnlessCancelled } from "./debounce";
import { type DscoderSettings, languageEnabled } from "./settings";

export interface MiddlewareHooks {
  settings(): DscoderSettings;
  /** The global on/off switch (the `dscoder.toggle` command). */
  enabled(): boolean;
  /** After each answer reached VS Code: its round trip and item count. */
  onAnswer(latencyMs: number, items: number): void;
  /** The items of an answer VS Code will show (not cancelled), for the acceptance signals. */
  onDelivered?(uri: string, items: readonly vscode.InlineCompletionItem[]): void;
  /** After a failed request (cancellations included). */
  onFailure(error: unknown): void;
  now?: () => number;
}

type InlineResult = vscode.InlineCompletionItem[] | vscode.InlineCompletionList | null | undefined;

function itemsOf(result: InlineResult): vscode.InlineCompletionItem[] {
  if (!result) return [];
  return Array.isArray(result) ? result : result.items;
}

export function createMiddleware(hooks: MiddlewareHooks): Middleware {
  const now = hooks.now ?? (() => performance.now());
  return {
    provideInlineCompletionItems: async (document, position, context, token, next) => {
      const settings = hooks.settings();
      if (!hooks.enabled() || !settings.enable || !languageEnabled(settings, document.languageId)) {
        return null;
      }
      if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic) {
        if (!(await waitUnlessCancelled(settings.debounceMs, token))) {
          return null;
        }
      } else if (token.isCancellationRequested) {
        return null;
      }
      const started = now();
      try {
        const result = await next(document, position, context, token);
        const items = itemsOf(result);
        hooks.onAnswer(now() - started, items.length);
        if (items.length > 0 && !token.isCancellationRequested) {
          hooks.onDelivered?.(document.uri.toString(), items);
        }
        return result;
      } catch (error) {
        hooks.onFailure(error);
        throw error;
      }
    },
    provideCompletionItem: () => undefined,
  };
}

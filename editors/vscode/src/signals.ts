/**
 * Acceptance signals: telling the server what became of its suggestions.
 *
 * The server counts them (`dscoder/stats`; local only). Three signals, in
 * Copilot's names and shapes:
 * - a whole accept runs the item's own `dscoder.accepted` command, which
 *   vscode-languageclient forwards as `workspace/executeCommand` (the server
 *   advertises it); nothing to do here;
 * - `textDocument/didShowCompletion {item}` when an item is on screen;
 * - `textDocument/didPartiallyAcceptCompletion {item, acceptedLength}` after a
 *   word or line accept, `acceptedLength` in UTF-16 code units, as VS Code
 *   counts (cumulative for the item).
 *
 * VS Code reports "shown" and partial accepts to a provider only through a
 * proposed API (`inlineCompletionsAdditions`), closed to published
 * extensions. So "shown" is sent when an answer with items reaches VS Code
 * (it shows the first item), and partial accepts are measured by the
 * extension's own Accept Next Word/Line commands: the text they inserted is
 * matched against the items last delivered for the document.
 *
 * This module has no `vscode` import; the controller and middleware call it.
 */

export const DID_SHOW = "textDocument/didShowCompletion";
export const DID_PARTIALLY_ACCEPT = "textDocument/didPartiallyAcceptCompletion";
export const ACCEPTED_COMMAND = "dscoder.accepted";

/** What the signals need of a `vscode.InlineCompletionItem`. */
export interface ItemLike {
  insertText: string | { value: string };
  command?: { command: string; title?: string; arguments?: unknown[] };
}

export type Send = (method: string, params: unknown) => void;

interface Tracked {
  text: string;
  wire: { insertText: string; command: ItemLike["command"] };
  accepted: number;
}

function textOf(item: ItemLike): string {
  return typeof item.insertText === "string" ? item.insertText : item.insertText.value;
}

function isOurs(item: ItemLike): boolean {
  return item.command?.command === ACCEPTED_COMMAND;
}

export class AcceptanceSignals {
  /** The items last delivered per document URI, in VS Code's order. */
  private readonly delivered = new Map<string, Tracked[]>();

  constructor(private readonly send: Send) {}

  /** An answer reached VS Code: remember its items and report the first as shown. */
  didDeliver(uri: string, items: readonly ItemLike[]): void {
    const tracked = items.filter(isOurs).map((item) => ({
      text: textOf(item),
      wire: { insertText: textOf(item), command: item.command },
      accepted: 0,
    }));
    if (tracked.length === 0) return;
    this.delivered.set(uri, tracked);
    this.send(DID_SHOW, { item: tracked[0].wire });
  }

  /** VS Code showed `item` (the proposed API's handleDidShowCompletionItem, where enabled). */
  didShow(item: ItemLike): void {
    if (isOurs(item)) this.send(DID_SHOW, { item: { insertText: textOf(item), command: item.command } });
  }

  /**
   * A word or line accept inserted `inserted` in `uri`: find the delivered item
   * it came from (the one that continues with it) and report the running total.
   */
  didInsertPart(uri: string, inserted: string): boolean {
    if (!inserted) return false;
    const items = this.delivered.get(uri) ?? [];
    const item = items.find((candidate) => candidate.text.startsWith(inserted, candidate.accepted));
    if (!item) return false;
    item.accepted += inserted.length; // JavaScript strings count UTF-16 code units
    this.send(DID_PARTIALLY_ACCEPT, { item: item.wire, acceptedLength: item.accepted });
    return true;
  }

  forget(uri: string): void {
    this.delivered.delete(uri);
  }
}

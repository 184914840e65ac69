/**
 * Entry point: wires the controller to vscode-languageclient's LanguageClient.
 *
 * The server runs over stdio; with `TransportKind.stdio` the client appends
 * `--stdio` to the command line itself. Settings travel as
 * `initializationOptions` and, when they change, as
 * `workspace/didChangeConfiguration` (see controller.ts).
 */

import type * as vscode from "vscode";
import {
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import { type ClientSpec, Controller } from "./controller";

export function createClient(spec: ClientSpec): LanguageClient {
  const serverOptions: ServerOptions = {
    command: spec.command,
    args: spec.args,
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: spec.initializationOptions,
    middleware: spec.middleware,
    outputChannel: spec.outputChannel,
  };
  return new LanguageClient("dscoder", "dscoder-lsp", serverOptions, clientOptions);
}

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new Controller(createClient);
  context.subscriptions.push({ dispose: () => void controller?.dispose() });
  await controller.activate();
}

export async function deactivate(): Promise<void> {
  const current = controller;
  controller = undefined;
  await current?.dispose();
}

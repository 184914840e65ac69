/**
 * Makes `require("vscode")` load the stub (test/stub/vscode.ts). Import this
 * module first in every test file that loads extension code.
 */

import Module from "node:module";
import * as path from "node:path";

const stubPath = path.join(__dirname, "vscode.js");
type Resolve = (request: string, ...rest: unknown[]) => string;
const internals = Module as unknown as { _resolveFilename: Resolve };
const original = internals._resolveFilename;
internals._resolveFilename = function (request: string, ...rest: unknown[]): string {
  if (request === "vscode") {
    return stubPath;
  }
  return original.call(this, request, ...rest);
};

#!/usr/bin/env bash
# VS Code extension checks: install, typecheck, lint, unit tests (stubbed
# vscode), protocol tests (real dscoder-lsp on the tiny test model), the
# bundle activated with the real language client, and the .vsix package.
# Called by editors/test.sh; runs from any directory.
set -euo pipefail
cd "$(dirname "$0")"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

step() { printf '\n== %s\n' "$*"; }

step "npm ci"
if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "node_modules up to date with package-lock.json; skipping"
else
  npm ci --prefer-offline --no-audit --no-fund
fi

step "typecheck"
npx --no-install tsc --noEmit -p .

step "lint"
npx --no-install eslint .

step "unit tests"
rm -rf out
npx --no-install tsc -p tsconfig.test.json
node --test out/test/unit/*.test.js

step "protocol tests (real server)"
node --test --test-concurrency=1 out/test/protocol/*.test.js

step "bundle"
node esbuild.mjs --production

step "integration tests (the bundle, real vscode-languageclient, real server)"
node --test out/test/integration/*.test.js

step "package"
rm -f ./*.vsix
npx --no-install vsce package
ls -l ./*.vsix

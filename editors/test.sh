#!/usr/bin/env bash
# Editor client checks that are not pytest: the VS Code extension's typecheck,
# lint, unit tests, protocol tests against the real server, and .vsix build.
# (The Neovim plugin is tested by pytest in tests/editors/, with a real nvim.)
set -euo pipefail
cd "$(dirname "$0")"
if [ -x vscode/ci.sh ]; then
  vscode/ci.sh
else
  echo "editors/vscode/ci.sh not present; nothing to do"
fi

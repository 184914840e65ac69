#!/usr/bin/env bash
# Installs code-server (VS Code's own workbench, in a browser) for the real
# VS Code end-to-end tests (tests/editors/test_vscode_real.py). Idempotent:
# the install is cached outside the clone, in ~/.cache/dscoder-lsp/, keyed by
# version, and a second run only checks it. Needs npm; Debian's Node 20 runs
# code-server 4.96-4.100 (newer ones need Node 22/24).
#
# What the postinstall needs, learned the hard way:
# - npm_config_unsafe_perm=true (it runs as root), npm_config_yes=true;
# - npm_config_nodedir pointing at the node headers (/usr for Debian's Node);
# - Debian's libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config;
# - @vscode/ripgrep downloads rg from GitHub: Debian's ripgrep, packed into
#   the archive it looks for in its cache, avoids that (no network here).
#
# Usage: tools/install_code_server.sh [VERSION]   (prints the code-server path)
set -euo pipefail

VERSION="${1:-${DSCODER_CODE_SERVER_VERSION:-4.100.3}}"
CACHE="${DSCODER_CACHE:-$HOME/.cache/dscoder-lsp}"
PREFIX="$CACHE/code-server-$VERSION"
BIN="$PREFIX/node_modules/.bin/code-server"

# Debian's packages the postinstall and the tests need (Chromium drives the
# workbench through Playwright). As root with apt only; otherwise the tests skip.
DEBS="chromium libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep"
missing=""
for deb in $DEBS; do
  dpkg -s "$deb" >/dev/null 2>&1 || missing="$missing $deb"
done
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "install_code_server: installing Debian packages:$missing" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >&2 \
    || echo "install_code_server: apt-get failed; the real VS Code tests will skip" >&2
fi
if [ -x "$BIN" ] && [ -f "$PREFIX/.complete" ]; then
  echo "$BIN"
  exit 0
fi
command -v npm >/dev/null || { echo "install_code_server: npm is missing" >&2; exit 1; }
command -v node >/dev/null || { echo "install_code_server: node is missing" >&2; exit 1; }

# Debian's ripgrep in the cache paths @vscode/ripgrep's postinstall reads.
if command -v rg >/dev/null; then
  RG_DIR="$(mktemp -d)"
  mkdir -p "$RG_DIR/bin"
  cp "$(command -v rg)" "$RG_DIR/bin/rg"
  TMP="${TMPDIR:-/tmp}"
  for tag in v13.0.0-10 v13.0.0-11 v13.0.0-12 v13.0.0-13 v14.1.1-1; do
    for target in x86_64-unknown-linux-musl x86_64-unknown-linux-gnu; do
      for cache in "$TMP/vscode-ripgrep-cache-1.15.9" "$TMP/vscode-ripgrep-cache-1.15.10" \
        "$TMP/vscode-ripgrep-cache-1.15.11" "$TMP/vscode-ripgrep-cache-1.15.13"; do
        mkdir -p "$cache"
        tar -czf "$cache/ripgrep-$tag-$target.tar.gz" -C "$RG_DIR/bin" rg
      done
    done
  done
  rm -rf "$RG_DIR"
fi

mkdir -p "$PREFIX"
cd "$PREFIX"
[ -f package.json ] || echo '{"name":"dscoder-code-server","private":true}' > package.json
export npm_config_unsafe_perm=true npm_config_yes=true
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
npm install --no-save --prefer-offline --foreground-scripts "code-server@$VERSION" >&2
[ -x "$BIN" ] || { echo "install_code_server: $BIN missing after npm install" >&2; exit 1; }
touch "$PREFIX/.complete"
echo "$BIN"

#!/usr/bin/env bash
# Builds llama.cpp's C++ `llama-server` (the /infill endpoint) from the
# llama.cpp sources vendored in the llama-cpp-python sdist on PyPI, so the
# server matches the in-process engine's llama.cpp. CPU only, server target
# only. The binary is cached outside the clone at
# ~/.cache/dscoder-lsp/bin/llama-server (or $DSCODER_LLAMA_SERVER); a cached
# binary is reused. Slow on small machines: run it in the background.
set -euo pipefail

LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
CACHE="${DSCODER_CACHE:-$HOME/.cache/dscoder-lsp}"
HERE="$(cd "$(dirname "$0")" && pwd)"
LLAMA_CMAKE_ARGS="$("$HERE/llama_cmake_args.sh")"
FLAGS_KEY="$("$HERE/llama_cmake_args.sh" --key)"
# Keyed by version and flags, so a binary built with other flags is never reused.
OUT="${DSCODER_LLAMA_SERVER:-$CACHE/bin/llama-server-$LLAMA_CPP_VERSION-$FLAGS_KEY}"
JOBS="${JOBS:-2}"
PYTHON="${PYTHON:-python3}"

if [ -x "$OUT" ]; then
  echo "llama-server already built: $OUT" >&2
  [ -n "${DSCODER_LLAMA_SERVER:-}" ] || ln -sfn "$(basename "$OUT")" "$CACHE/bin/llama-server"
  exit 0
fi

WORK="$CACHE/build/llama-server-$LLAMA_CPP_VERSION-$FLAGS_KEY"
mkdir -p "$WORK" "$(dirname "$OUT")"
sdist=$(ls "$WORK"/llama_cpp_python-"$LLAMA_CPP_VERSION".tar.gz 2>/dev/null || true)
if [ -z "$sdist" ]; then
  # The sdist's URL from PyPI's simple index (pip download would build metadata).
  "$PYTHON" - "$LLAMA_CPP_VERSION" "$WORK" <<'PY'
import re, sys, urllib.request
version, work = sys.argv[1], sys.argv[2]
name = f"llama_cpp_python-{version}.tar.gz"
with urllib.request.urlopen("https://pypi.org/simple/llama-cpp-python/") as r:
    page = r.read().decode()
url = next(u for u in re.findall(r'href="([^"]+)"', page) if u.split("#")[0].endswith("/" + name))
urllib.request.urlretrieve(url.split("#")[0], f"{work}/{name}")
PY
  sdist=$(ls "$WORK"/llama_cpp_python-"$LLAMA_CPP_VERSION".tar.gz)
fi
SRC="$WORK/llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp"
if [ ! -d "$SRC" ]; then
  tar -xzf "$sdist" -C "$WORK"
fi

cmake -S "$SRC" -B "$WORK/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_SERVER=ON \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_CURL=OFF \
  $LLAMA_CMAKE_ARGS >&2
cmake --build "$WORK/build" --target llama-server -j "$JOBS" >&2
install -m 0755 "$WORK/build/bin/llama-server" "$OUT"
# The stable name the tests and docs use points at the build for this CPU.
ln -sfn "$(basename "$OUT")" "$CACHE/bin/llama-server"
echo "built: $OUT" >&2

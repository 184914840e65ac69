"""``dscoder-lsp serve-vllm MODEL``: a vLLM OpenAI server set up for DeepSeek Coder.

Not part of the completion pipeline: a convenience that builds the vLLM
command line (prefix caching on; the flags DeepSeek-Coder-V2-Lite needs),
prints the dscoder-lsp configuration that points at it, then runs vLLM in
the foreground until interrupted. vLLM itself is an optional dependency
(``pip install 'dscoder-lsp[vllm]'``, or a separate venv via --python).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

# DeepSeek-Coder-V2(-Lite) ships custom modelling code and a 128K window the
# KV cache of one GPU cannot hold; CUDA graphs cost minutes at start-up.
V2_FLAGS = ("--trust-remote-code", "--max-model-len", "8192", "--enforce-eager")


def is_v2(model: str) -> bool:
    name = model.lower()
    return "coder-v2" in name or "coderv2" in name


def build_command(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The vLLM command line for ``args`` (plus pass-through ``extra`` flags)."""
    command = [
        args.python,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        args.model,
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--enable-prefix-caching",
    ]
    if args.served_model_name:
        command += ["--served-model-name", args.served_model_name]
    if is_v2(args.model):
        command += [flag for flag in V2_FLAGS if flag not in extra]
        if "--max-model-len" in extra:  # keep the user's window, not ours
            index = command.index("--max-model-len")
            del command[index : index + 2]
    if args.max_model_len and "--max-model-len" not in command:
        command += ["--max-model-len", str(args.max_model_len)]
    if args.api_key_env:
        command += ["--api-key", os.environ.get(args.api_key_env, "")]
    return command + list(extra)


def config_line(args: argparse.Namespace) -> str:
    """How to point dscoder-lsp at the server, as CLI flags and as JSON options."""
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    endpoint = f"http://{host}:{args.port}/v1"
    name = args.served_model_name or args.model
    options: dict[str, object] = {
        "engine": {"name": "vllm", "endpoint": endpoint},
        "model": {"name": name},
    }
    if args.api_key_env:
        options["engine"] = {**options["engine"], "apiKeyEnv": args.api_key_env}  # type: ignore[dict-item]
    flags = f"dscoder-lsp --engine vllm --endpoint {endpoint} --model-name {name}"
    return f"{flags}\ninitializationOptions: {json.dumps(options)}"


def default_python() -> str:
    configured = os.environ.get("DSCODER_VLLM_PYTHON")
    if configured:
        return configured
    cache = os.environ.get("DSCODER_CACHE") or os.path.expanduser("~/.cache/dscoder-lsp")
    venv = os.path.join(cache, "vllm-venv", "bin", "python")
    return venv if os.path.isfile(venv) else sys.executable


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="dscoder-lsp serve-vllm",
        description="Start a vLLM OpenAI server for a DeepSeek Coder model. "
        "Unknown flags are passed to vLLM.",
    )
    p.add_argument("model", help="HF model id or local directory")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--served-model-name", help="name clients use (default: MODEL)")
    p.add_argument("--max-model-len", type=int, help="context window to serve")
    p.add_argument("--api-key-env", metavar="VAR", help="require the API key held in this variable")
    p.add_argument(
        "--python",
        default=default_python(),
        help="interpreter with vLLM installed (default: $DSCODER_VLLM_PYTHON, the venv of "
        "tools/install_vllm.sh, or this one)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parser().parse_known_args(list(argv) if argv is not None else None)
    command = build_command(args, extra)
    shown = [
        ("***" if i and command[i - 1] == "--api-key" else part) for i, part in enumerate(command)
    ]
    sys.stderr.write("vLLM: " + " ".join(shown) + "\n")
    sys.stdout.write(config_line(args) + "\n")
    sys.stdout.flush()
    if args.dry_run:
        return 0
    if shutil.which(args.python) is None and not os.path.isfile(args.python):
        sys.stderr.write(f"no Python at {args.python}; install vLLM (tools/install_vllm.sh)\n")
        return 2
    probe = subprocess.run([args.python, "-c", "import vllm"], capture_output=True, check=False)
    if probe.returncode != 0:
        sys.stderr.write(
            f"vLLM is not installed for {args.python}: pip install 'dscoder-lsp[vllm]' "
            "or run tools/install_vllm.sh (found via $DSCODER_VLLM_PYTHON or --python)\n"
        )
        return 2
    try:
        return subprocess.call(command)
    except KeyboardInterrupt:
        return 130

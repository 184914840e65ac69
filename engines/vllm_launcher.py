"""``dscoder-lsp serve-vllm MODEL``: a vLLM OpenAI server set up for DeepSeek Coder.

Not part of the completion pipeline: a convenience that builds the vLLM
command line (prefix caching on; the flags DeepSeek-Coder-V2-Lite needs),
prints the dscoder-lsp configuration that points at it, then runs vLLM in
the foreground until interrupted. ``--replicas N`` starts N servers on
consecutive ports (each on its own share of the GPUs) and prints the
``engine.endpoints`` list that spreads editors over them (engines/fleet.py).
vLLM itself is an optional dependency (``pip install 'dscoder-lsp[vllm]'``,
or a separate venv via --python).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence

NGRAM_DRAFT_TOKENS = 8
NGRAM_LOOKUP_MAX = 3
"""``--speculative ngram``: draft length and longest n-gram. The n-gram size is the
local engine's; the draft length is longer than its 4, since on a GPU a batch of
drafts costs about one decode (not measured here: no GPU)."""

# DeepSeek-Coder-V2(-Lite) ships custom modelling code and a 128K window the
# KV cache of one GPU cannot hold; CUDA graphs cost minutes at start-up.
V2_FLAGS = ("--trust-remote-code", "--max-model-len", "8192", "--enforce-eager")


def is_v2(model: str) -> bool:
    name = model.lower()
    return "coder-v2" in name or "coderv2" in name


def speculative_config(args: argparse.Namespace) -> str | None:
    """The ``--speculative-config`` JSON: given as is, or built for ``--speculative ngram``."""
    if args.speculative != "ngram":
        return str(args.speculative_config) if args.speculative_config else None
    return json.dumps(
        {
            "method": "ngram",
            "num_speculative_tokens": args.speculative_tokens,
            "prompt_lookup_max": NGRAM_LOOKUP_MAX,
            "prompt_lookup_min": 1,
        },
        separators=(",", ":"),
    )


def build_command(
    args: argparse.Namespace, extra: Sequence[str], port: int | None = None
) -> list[str]:
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
        str(args.port if port is None else port),
        "--enable-prefix-caching",
    ]
    if args.tensor_parallel_size:
        command += ["--tensor-parallel-size", str(args.tensor_parallel_size)]
    if args.data_parallel_size:
        command += ["--data-parallel-size", str(args.data_parallel_size)]
    speculative = speculative_config(args)
    if speculative:
        command += ["--speculative-config", speculative]
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


def replica_ports(args: argparse.Namespace) -> list[int]:
    return [args.port + i for i in range(max(1, args.replicas))]


def replica_gpus(args: argparse.Namespace, index: int) -> str | None:
    """CUDA_VISIBLE_DEVICES for replica ``index``: its own tp x dp GPUs, when replicated."""
    if args.replicas <= 1 or os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    per_replica = max(1, args.tensor_parallel_size or 1) * max(1, args.data_parallel_size or 1)
    first = index * per_replica
    return ",".join(str(gpu) for gpu in range(first, first + per_replica))


def config_line(args: argparse.Namespace) -> str:
    """How to point dscoder-lsp at the server(s), as CLI flags and as JSON options."""
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    endpoints = [f"http://{host}:{port}/v1" for port in replica_ports(args)]
    endpoint = endpoints[0]
    name = args.served_model_name or args.model
    engine: dict[str, object] = {"name": "vllm", "endpoint": endpoint}
    if len(endpoints) > 1:
        engine = {"name": "vllm", "endpoints": endpoints}
    options: dict[str, object] = {"engine": engine, "model": {"name": name}}
    if args.api_key_env:
        options["engine"] = {**options["engine"], "apiKeyEnv": args.api_key_env}  # type: ignore[dict-item]
    flags = f"dscoder-lsp --engine vllm --endpoint {endpoint} --model-name {name}"
    if len(endpoints) > 1:
        flags = f"engine.endpoints = {json.dumps(endpoints)}"
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
        "--tensor-parallel-size", type=int, metavar="N", help="GPUs one model copy spans"
    )
    p.add_argument(
        "--data-parallel-size", type=int, metavar="N", help="model copies inside one vLLM server"
    )
    p.add_argument(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="start N servers on consecutive ports from --port, and print the "
        "engine.endpoints that spread editors over them",
    )
    p.add_argument(
        "--speculative-config", metavar="JSON", help="passed to vLLM (speculative decoding)"
    )
    p.add_argument(
        "--speculative",
        choices=("ngram",),
        help="shorthand for --speculative-config: vLLM's n-gram (prompt lookup) drafts",
    )
    p.add_argument(
        "--speculative-tokens",
        type=int,
        default=NGRAM_DRAFT_TOKENS,
        metavar="N",
        help=f"draft tokens per step for --speculative ngram (default {NGRAM_DRAFT_TOKENS})",
    )
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
    if args.replicas < 1:
        sys.stderr.write("--replicas must be at least 1\n")
        return 2
    if args.speculative and args.speculative_config:
        sys.stderr.write("give --speculative or --speculative-config, not both\n")
        return 2
    if args.speculative_tokens < 1:
        sys.stderr.write("--speculative-tokens must be at least 1\n")
        return 2
    commands = [build_command(args, extra, port) for port in replica_ports(args)]
    for index, command in enumerate(commands):
        shown = [
            ("***" if i and command[i - 1] == "--api-key" else part)
            for i, part in enumerate(command)
        ]
        gpus = replica_gpus(args, index)
        where = f"CUDA_VISIBLE_DEVICES={gpus} " if gpus is not None else ""
        sys.stderr.write("vLLM: " + where + " ".join(shown) + "\n")
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
    if len(commands) == 1:
        try:
            return subprocess.call(commands[0])
        except KeyboardInterrupt:
            return 130
    return run_replicas(args, commands)


def run_replicas(args: argparse.Namespace, commands: list[list[str]]) -> int:
    """Run every replica until one exits or the user interrupts; then stop them all."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for index, command in enumerate(commands):
            env = dict(os.environ)
            gpus = replica_gpus(args, index)
            if gpus is not None:
                env["CUDA_VISIBLE_DEVICES"] = gpus
            processes.append(subprocess.Popen(command, env=env, start_new_session=True))
        while True:
            for process in processes:
                try:
                    code = process.wait(timeout=1.0)
                except subprocess.TimeoutExpired:
                    continue
                sys.stderr.write(f"vLLM replica {process.pid} exited with {code}\n")
                return code or 1
    except KeyboardInterrupt:
        return 130
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

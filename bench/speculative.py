"""Prompt-lookup decoding on SmolLM2: decode speed, latency and draft acceptance.

Runs the worker's own decode code (engines/llama_worker.py's ``_Model``) in
this process, on one llama.cpp context, so every variant sees the same model,
threads and machine load; the variants are interleaved run by run. Greedy
completions of 64 tokens on two sets of prompts:

- ``copy``: completions that copy from their context (an argument list
  repeated from a definition, repeated calls, a test case after earlier ones);
- ``plain``: completions with little to copy.

Per variant (``off``, or prompt lookup with draft length D and n-grams of
``min``..``max`` tokens): decode tokens/s (the prompt already in the KV cache,
so only decoding is timed), completion latency (a cold KV cache: prompt
evaluation plus decoding), and the share of drafted tokens the model accepted.
Times are CPU seconds of one llama.cpp thread, so a loaded machine changes
them little (wall time on an idle core is about the same).
Each figure is the median over ``--runs``; the speed-up is against ``off`` on
the same prompts. Also says whether every variant's text equals ``off``'s, and
ends with what one decode of n tokens costs against n decodes of one.

    PYTHONPATH=. .venv/bin/python bench/speculative.py [--runs 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines.llama_worker import PromptLookup, _Model  # noqa: E402
from tests.conftest import smollm2_path  # noqa: E402

COPY_PROMPTS = (
    "def connect(host, port, user, password, timeout, retries, verbose):\n"
    '    """Open a session."""\n'
    "    return Session(host, port, user, password, timeout, retries, verbose)\n\n\n"
    "def reconnect(host, port, user, password, timeout, retries, verbose):\n"
    "    close_all()\n"
    "    return connect(",
    "import matplotlib.pyplot as plt\n\n"
    "plt.plot(x, y_train, color='red', linewidth=2, linestyle='--', label='train')\n"
    "plt.plot(x, y_valid, color='blue', linewidth=2, linestyle='--', label='valid')\n"
    "plt.plot(x, y_test,",
    "def test_add():\n    calc = Calculator()\n    assert calc.add(2, 3) == 5\n\n\n"
    "def test_sub():\n    calc = Calculator()\n    assert calc.sub(5, 3) == 2\n\n\n"
    "def test_mul():\n    calc = Calculator()\n",
    "CONFIG = {\n"
    "    'train': {'batch_size': 32, 'learning_rate': 0.001, 'epochs': 10, 'shuffle': True},\n"
    "    'valid': {'batch_size': 32, 'learning_rate': 0.001, 'epochs': 10, 'shuffle': False},\n"
    "    'test': {",
)
PLAIN_PROMPTS = (
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    "# Parse the command line and start the web server.\nimport argparse\n\n\ndef main():\n",
    "class LinkedList:\n    def __init__(self):\n",
    "The quick brown fox",
)
MAX_TOKENS = 64


@dataclass(frozen=True)
class Variant:
    name: str
    lookup: PromptLookup | None


@dataclass
class Figures:
    decode_rates: list[float]
    latencies: list[float]
    drafted: int = 0
    accepted: int = 0
    same_text: bool = True


def load(threads: int) -> _Model:
    model = _Model()
    options: dict[str, Any] = {
        "model_path": str(smollm2_path()),
        "n_ctx": 2048,
        "n_batch": 512,
        "n_gpu_layers": 0,
        "seed": 0,
        "n_threads": threads,
    }
    model.load({"options": options})
    # Prompt batches and verify batches on the same threads as single tokens:
    # the comparison is of decoding strategies, not of thread counts.
    model.llama._ctx.set_n_threads(threads, threads)
    return model


def generate(model: _Model, prompt: str, lookup: PromptLookup | None) -> tuple[str, dict[str, Any]]:
    model.lookup = lookup
    pieces: list[str] = []
    request = {"prompt": prompt, "max_tokens": MAX_TOKENS, "temperature": 0.0, "top_p": 1.0}
    started = time.process_time()
    usage = model.generate(request, lambda: False, lambda piece, _: pieces.append(piece))
    # CPU time of this process (one llama.cpp thread): what other programs on
    # the machine take does not count, unlike wall time.
    usage["cpu_seconds"] = time.process_time() - started
    return "".join(pieces), usage


def measure(
    model: _Model, prompts: tuple[str, ...], variants: list[Variant], runs: int
) -> dict[str, Figures]:
    figures = {variant.name: Figures([], []) for variant in variants}
    expected = {prompt: generate(model, prompt, None)[0] for prompt in prompts}
    for _ in range(runs):
        for variant in variants:
            tokens = 0
            decode_seconds = 0.0
            latency = 0.0
            for prompt in prompts:
                model.llama.n_tokens = 0  # a cold KV cache: the whole prompt is evaluated
                text, cold = generate(model, prompt, variant.lookup)
                _, warm = generate(model, prompt, variant.lookup)  # prompt cached
                latency += cold["cpu_seconds"]
                decode_seconds += warm["cpu_seconds"]
                tokens += warm["generated"]
                figure = figures[variant.name]
                figure.drafted += warm["drafted"]
                figure.accepted += warm["accepted"]
                figure.same_text = figure.same_text and text == expected[prompt]
            figures[variant.name].decode_rates.append(tokens / decode_seconds)
            figures[variant.name].latencies.append(latency / len(prompts))
    return figures


def report(kind: str, figures: dict[str, Figures]) -> None:
    base = statistics.median(figures["off"].decode_rates)
    base_latency = statistics.median(figures["off"].latencies)
    for name, figure in figures.items():
        rate = statistics.median(figure.decode_rates)
        latency = statistics.median(figure.latencies)
        acceptance = f"{figure.accepted / figure.drafted:6.1%}" if figure.drafted else "     -"
        print(
            f"| {kind:5s} | {name:18s} | {rate:7.1f} | {rate / base:5.2f}x "
            f"| {latency * 1000:7.1f} | {latency / base_latency:5.2f}x | {acceptance} "
            f"| {'yes' if figure.same_text else 'NO'} |"
        )


def verify_costs(model: _Model, sizes: tuple[int, ...] = (1, 2, 3, 5, 9, 17)) -> None:
    """CPU time of one decode of n tokens (logits for each), against n single-token decodes.

    The physical limit: drafts pay only where a batch of n costs less than n
    decodes of one token.
    """
    llama = model.llama
    tokens = llama.tokenize(COPY_PROMPTS[0].encode(), add_bos=False, special=True)
    llama.n_tokens = 0
    model.lookup = None
    llama.eval(tokens[:-20])
    cached = llama.n_tokens
    costs: dict[int, float] = {}
    for _ in range(10):
        for size in sizes:
            llama.n_tokens = cached
            started = time.process_time()
            model._evaluate_for_argmax(tokens[cached : cached + size])
            elapsed = time.process_time() - started
            costs[size] = min(costs.get(size, elapsed), elapsed)
    print("\n| tokens in one decode | CPU ms (best of 10) | per token | vs one-token decodes |")
    print("| --- | --- | --- | --- |")
    for size in sizes:
        cost = costs[size]
        print(
            f"| {size} | {cost * 1000:.1f} | {cost / size * 1000:.1f} "
            f"| {cost / (size * costs[1]):.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--drafts", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--min-ngram", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--max-ngram", type=int, default=3)
    args = parser.parse_args()
    model = load(args.threads)
    variants = [Variant("off", None)] + [
        Variant(
            f"D={drafts} n={low}..{args.max_ngram}",
            PromptLookup(draft_tokens=drafts, max_ngram=args.max_ngram, min_ngram=low),
        )
        for low in args.min_ngram
        for drafts in args.drafts
    ]
    print(
        f"SmolLM2-135M Q4_1, {args.threads} thread(s), {MAX_TOKENS} tokens a completion, "
        f"median of {args.runs} runs"
    )
    print(
        "| set   | variant            | tok/s   | decode "
        "| latency ms | vs off | accepted | same text as off |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, prompts in (("copy", COPY_PROMPTS), ("plain", PLAIN_PROMPTS)):
        report(kind, measure(model, prompts, variants, args.runs))
    verify_costs(model)


if __name__ == "__main__":
    main()

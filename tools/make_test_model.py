"""Train the tiny FIM test model and write it as GGUF (plus examples.json).

A small Llama-architecture decoder learns DeepSeek Coder's fill-in-the-middle
format on synthetic Python and JavaScript: single-line holes, multi-line
function bodies, mid-line call arguments and the same calls opened at the
start of their line, where the right middle needs names from the prefix and
from the suffix. Everything is seeded, so the same
command rebuilds the same model.

    .venv/bin/python tools/make_test_model.py [--steps 2000] [--out tests/fixtures/tiny-dscoder]

Prints the held-out exact-match rate and the EOS rate measured through the
project's own llama.cpp engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from completion.prompt import (  # noqa: E402
    DEEPSEEK_BOS,
    DEEPSEEK_EOS,
    DEEPSEEK_EOT,
    DEEPSEEK_FIM_BEGIN,
    DEEPSEEK_FIM_END,
    DEEPSEEK_FIM_HOLE,
)

SPECIALS = [
    DEEPSEEK_BOS,
    DEEPSEEK_EOS,
    DEEPSEEK_FIM_BEGIN,
    DEEPSEEK_FIM_HOLE,
    DEEPSEEK_FIM_END,
    DEEPSEEK_EOT,
]
NAMES = [
    "count",
    "total",
    "value",
    "item",
    "price",
    "size",
    "width",
    "height",
    "speed",
    "score",
    "limit",
    "offset",
    "index",
    "weight",
    "amount",
    "level",
    "ratio",
    "delta",
    "start",
    "depth",
    "rate",
    "cost",
    "age",
    "step",
    "base",
    "left",
    "right",
    "top",
    "bottom",
    "number",
]
OPS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


@dataclass(frozen=True)
class Hole:
    language: str
    kind: str
    prefix: str
    middle: str
    suffix: str


def pick(rng: random.Random, count: int) -> list[str]:
    return rng.sample(NAMES, count)


def line_start(hole: Hole) -> Hole:
    """The same hole opened from the start of its line.

    The server puts the text typed on the cursor's line after the middle
    marker (``context.lineInMiddle``), so the model must know middles that
    begin at a line start and run on past the cursor.
    """
    line = hole.prefix[hole.prefix.rfind("\n") + 1 :]
    cut = len(hole.prefix) - len(line.lstrip(" \t"))  # the indentation stays, as in the server
    return Hole(
        hole.language, "line-start", hole.prefix[:cut], hole.prefix[cut:] + hole.middle, hole.suffix
    )


def typed_region(hole: Hole, lines: int) -> Hole:
    """The same hole with the text typed since an anchor ``lines`` lines up in the middle.

    The server's typed region (``context.typedRegion``) keeps the prompt cut
    where typing began and carries everything typed since, across lines,
    after the middle marker; the anchor sits after that line's indentation.
    """
    start = len(hole.prefix)
    for _ in range(lines + 1):
        start = hole.prefix.rfind("\n", 0, start)
        if start < 0:
            break
    line = hole.prefix[start + 1 :]
    cut = len(hole.prefix) - len(line.lstrip(" \t"))
    return Hole(
        hole.language,
        "typed-region",
        hole.prefix[:cut],
        hole.prefix[cut:] + hole.middle,
        hole.suffix,
    )


def with_typed_regions(holes: list[Hole], rng: random.Random, share: float) -> list[Hole]:
    """``holes`` with about ``share`` of them opened 1 to 3 lines up (typed regions)."""
    return [typed_region(h, rng.randint(1, 3)) if rng.random() < share else h for h in holes]


def training_texts(holes: list[Hole], rng: random.Random, share: float) -> list[tuple[str, str]]:
    """(prompt, answer) pairs, about ``share`` of them in the typed region's form.

    The region's typed text is tokenized as part of the prompt, as the server
    sends it: typed text that ends in indentation tokenizes differently on its
    own ("\n    ") than followed by the rest of the middle ("\n   " + " level").
    """
    pairs: list[tuple[str, str]] = []
    for hole, region in zip(holes, with_typed_regions(holes, rng, share), strict=True):
        if region is hole:
            pairs.append((prompt_of(hole), hole.middle))
        else:
            typed = hole.prefix[len(region.prefix) :]
            pairs.append((prompt_of(region) + typed, hole.middle))
    return pairs


def python_holes(rng: random.Random) -> list[Hole]:
    verb = rng.choice(list(OPS))
    op = OPS[verb]
    p, r, q, v, a1, a2 = pick(rng, 6)
    fn = f"{verb}_{p}"
    x, y = rng.randint(1, 99), rng.randint(1, 99)
    header = f"def {fn}({p}, {r}):\n"
    calls = f"{a1} = {x}\n{a2} = {y}\n{v} = {fn}({a1}, {a2})\nprint({v})\n"
    single = Hole(
        "python",
        "single-line",
        header + "    ",
        f"{q} = {p} {op} {r}",
        f"\n    return {q}\n\n\n" + calls,
    )
    multi = Hole(
        "python",
        "multi-line",
        header + "    ",
        f"result = {p} {op} {r}\n    return result",
        "\n\n\n" + calls,
    )
    body = f"    {q} = {p} {op} {r}\n    return {q}\n\n\n"
    mid = Hole(
        "python",
        "mid-line",
        header + body + f"{a1} = {x}\n{a2} = {y}\n{v} = {fn}(",
        f"{a1}, {a2}",
        f")\nprint({v})\n",
    )
    return [single, multi, mid, line_start(mid)]


def javascript_holes(rng: random.Random) -> list[Hole]:
    verb = rng.choice(list(OPS))
    op = OPS[verb]
    p, r, q, v, a1, a2 = pick(rng, 6)
    fn = f"{verb}{p.capitalize()}"
    x, y = rng.randint(1, 99), rng.randint(1, 99)
    header = f"function {fn}({p}, {r}) {{\n"
    calls = (
        f"const {a1} = {x};\nconst {a2} = {y};\nconst {v} = {fn}({a1}, {a2});\nconsole.log({v});\n"
    )
    single = Hole(
        "javascript",
        "single-line",
        header + "  ",
        f"const {q} = {p} {op} {r};",
        f"\n  return {q};\n}}\n\n" + calls,
    )
    multi = Hole(
        "javascript",
        "multi-line",
        header + "  ",
        f"const result = {p} {op} {r};\n  return result;",
        "\n}\n\n" + calls,
    )
    body = f"  const {q} = {p} {op} {r};\n  return {q};\n}}\n\n"
    mid = Hole(
        "javascript",
        "mid-line",
        header + body + f"const {a1} = {x};\nconst {a2} = {y};\nconst {v} = {fn}(",
        f"{a1}, {a2}",
        f");\nconsole.log({v});\n",
    )
    return [single, multi, mid, line_start(mid)]


def make_holes(seed: int, count: int) -> list[Hole]:
    rng = random.Random(seed)
    holes: list[Hole] = []
    while len(holes) < count:
        holes.extend(python_holes(rng) if rng.random() < 0.5 else javascript_holes(rng))
    return holes[:count]


def fim_text(hole: Hole) -> str:
    return (
        DEEPSEEK_FIM_BEGIN
        + hole.prefix
        + DEEPSEEK_FIM_HOLE
        + hole.suffix
        + DEEPSEEK_FIM_END
        + hole.middle
        + DEEPSEEK_EOS
    )


def prompt_of(hole: Hole) -> str:
    return DEEPSEEK_FIM_BEGIN + hole.prefix + DEEPSEEK_FIM_HOLE + hole.suffix + DEEPSEEK_FIM_END


# ----- tokenizer ---------------------------------------------------------------


def train_tokenizer(texts: list[str], vocab_size: int):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


# ----- model -------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    vocab: int
    dim: int = 128
    layers: int = 3
    heads: int = 4
    ffn: int = 384
    context: int = 512
    rope_theta: float = 10000.0
    eps: float = 1e-5


def build_model(shape: Shape):  # type: ignore[no-untyped-def]
    import torch
    from torch import nn

    head_dim = shape.dim // shape.heads

    def rope(x: torch.Tensor) -> torch.Tensor:
        # llama.cpp's "normal" rope: rotate adjacent pairs (0,1), (2,3), ...
        seq = x.shape[-2]
        inv = 1.0 / (shape.rope_theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
        angles = torch.arange(seq).float()[:, None] * inv[None, :]
        cos, sin = angles.cos(), angles.sin()
        even, odd = x[..., 0::2], x[..., 1::2]
        out = torch.stack((even * cos - odd * sin, even * sin + odd * cos), dim=-1)
        return out.flatten(-2)

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn_norm = nn.RMSNorm(shape.dim, eps=shape.eps)
            self.q = nn.Linear(shape.dim, shape.dim, bias=False)
            self.k = nn.Linear(shape.dim, shape.dim, bias=False)
            self.v = nn.Linear(shape.dim, shape.dim, bias=False)
            self.o = nn.Linear(shape.dim, shape.dim, bias=False)
            self.ffn_norm = nn.RMSNorm(shape.dim, eps=shape.eps)
            self.gate = nn.Linear(shape.dim, shape.ffn, bias=False)
            self.up = nn.Linear(shape.dim, shape.ffn, bias=False)
            self.down = nn.Linear(shape.ffn, shape.dim, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            batch, seq, _ = x.shape
            h = self.attn_norm(x)

            def split(t: torch.Tensor) -> torch.Tensor:
                return t.view(batch, seq, shape.heads, head_dim).transpose(1, 2)

            q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
            q, k = rope(q), rope(k)
            attn = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.o(attn.transpose(1, 2).reshape(batch, seq, shape.dim))
            h = self.ffn_norm(x)
            return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(shape.vocab, shape.dim)
            self.blocks = nn.ModuleList(Block() for _ in range(shape.layers))
            self.norm = nn.RMSNorm(shape.dim, eps=shape.eps)
            self.output = nn.Linear(shape.dim, shape.vocab, bias=False)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            x = self.embed(ids)
            for block in self.blocks:
                x = block(x)
            return self.output(self.norm(x))

    return Model()


def train(model, tokenizer, shape: Shape, steps: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed + 1)
    regions = random.Random(seed + 2)  # its own stream: the holes stay those of before
    bos = tokenizer.token_to_id(DEEPSEEK_BOS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    batch_size = 32
    started = time.perf_counter()
    for step in range(steps):
        pairs = training_texts(make_holes(rng.randrange(10**9), batch_size), regions, 0.25)
        rows: list[list[int]] = []
        masks: list[list[int]] = []
        for prompt_text, middle in pairs:
            prompt = [bos, *tokenizer.encode(prompt_text).ids]
            answer = tokenizer.encode(middle + DEEPSEEK_EOS).ids
            ids = (prompt + answer)[: shape.context]
            rows.append(ids)
            # Weight the middle most: it is what the tests check.
            masks.append([0] * (len(prompt) - 1) + [1] * len(answer))
        width = max(len(r) for r in rows)
        ids = torch.zeros(batch_size, width, dtype=torch.long)
        targets = torch.full((batch_size, width), -100, dtype=torch.long)
        weights = torch.zeros(batch_size, width)
        for i, (row, mask) in enumerate(zip(rows, masks, strict=True)):
            ids[i, : len(row)] = torch.tensor(row)
            targets[i, : len(row) - 1] = torch.tensor(row[1:])
            weights[i, : len(mask)] = torch.tensor(mask, dtype=torch.float) * 0.9 + 0.1
        lr = 3e-3 * min(1.0, (step + 1) / 50) * (0.5 * (1 + math.cos(math.pi * step / steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits = model(ids)
        losses = torch.nn.functional.cross_entropy(
            logits.view(-1, shape.vocab), targets.view(-1), ignore_index=-100, reduction="none"
        ).view(batch_size, width)
        valid = (targets != -100).float()
        loss = (losses * weights * valid).sum() / (weights * valid).sum()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"step {step:5d} loss {loss.item():.4f} ({time.perf_counter() - started:.0f}s)")
    return time.perf_counter() - started


# ----- GGUF --------------------------------------------------------------------


def write_gguf(model, tokenizer, shape: Shape, path: Path) -> None:  # type: ignore[no-untyped-def]
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-dscoder (deepseek-coder FIM format)")
    writer.add_context_length(shape.context)
    writer.add_embedding_length(shape.dim)
    writer.add_block_count(shape.layers)
    writer.add_feed_forward_length(shape.ffn)
    writer.add_head_count(shape.heads)
    writer.add_head_count_kv(shape.heads)
    writer.add_rope_dimension_count(shape.dim // shape.heads)
    writer.add_rope_freq_base(shape.rope_theta)
    writer.add_layer_norm_rms_eps(shape.eps)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    vocab = tokenizer.get_vocab()
    tokens = [""] * len(vocab)
    for text, index in vocab.items():
        tokens[index] = text
    specials = set(SPECIALS)
    types = [
        gguf.TokenType.CONTROL if token in specials else gguf.TokenType.NORMAL for token in tokens
    ]
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(tokenizer.token_to_id(DEEPSEEK_BOS))
    writer.add_eos_token_id(tokenizer.token_to_id(DEEPSEEK_EOS))
    writer.add_eot_token_id(tokenizer.token_to_id(DEEPSEEK_EOT))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_uint32("tokenizer.ggml.fim_pre_token_id", tokenizer.token_to_id(DEEPSEEK_FIM_BEGIN))
    writer.add_uint32("tokenizer.ggml.fim_suf_token_id", tokenizer.token_to_id(DEEPSEEK_FIM_HOLE))
    writer.add_uint32("tokenizer.ggml.fim_mid_token_id", tokenizer.token_to_id(DEEPSEEK_FIM_END))

    def tensor(name: str, value) -> None:  # type: ignore[no-untyped-def]
        writer.add_tensor(name, value.detach().float().numpy().astype(np.float32))

    tensor("token_embd.weight", model.embed.weight)
    for i, block in enumerate(model.blocks):
        tensor(f"blk.{i}.attn_norm.weight", block.attn_norm.weight)
        tensor(f"blk.{i}.attn_q.weight", block.q.weight)
        tensor(f"blk.{i}.attn_k.weight", block.k.weight)
        tensor(f"blk.{i}.attn_v.weight", block.v.weight)
        tensor(f"blk.{i}.attn_output.weight", block.o.weight)
        tensor(f"blk.{i}.ffn_norm.weight", block.ffn_norm.weight)
        tensor(f"blk.{i}.ffn_gate.weight", block.gate.weight)
        tensor(f"blk.{i}.ffn_up.weight", block.up.weight)
        tensor(f"blk.{i}.ffn_down.weight", block.down.weight)
    tensor("output_norm.weight", model.norm.weight)
    tensor("output.weight", model.output.weight)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ----- Hugging Face format (for vLLM) -------------------------------------------


def write_hf(model, tokenizer, shape: Shape, out: Path) -> None:  # type: ignore[no-untyped-def]
    """safetensors + config + tokenizer for LlamaForCausalLM.

    Our rope rotates adjacent pairs (llama.cpp's layout); Hugging Face's
    rotates halves, so Q and K rows are permuted per head on the way out.
    """
    import torch
    from safetensors.torch import save_file
    from tokenizers import processors

    out.mkdir(parents=True, exist_ok=True)
    head_dim = shape.dim // shape.heads

    def to_halves(weight: torch.Tensor) -> torch.Tensor:
        return (
            weight.reshape(shape.heads, head_dim // 2, 2, shape.dim)
            .transpose(1, 2)
            .reshape(shape.dim, shape.dim)
        )

    tensors = {
        "model.embed_tokens.weight": model.embed.weight,
        "model.norm.weight": model.norm.weight,
        "lm_head.weight": model.output.weight,
    }
    for i, block in enumerate(model.blocks):
        prefix = f"model.layers.{i}"
        tensors |= {
            f"{prefix}.input_layernorm.weight": block.attn_norm.weight,
            f"{prefix}.self_attn.q_proj.weight": to_halves(block.q.weight),
            f"{prefix}.self_attn.k_proj.weight": to_halves(block.k.weight),
            f"{prefix}.self_attn.v_proj.weight": block.v.weight,
            f"{prefix}.self_attn.o_proj.weight": block.o.weight,
            f"{prefix}.post_attention_layernorm.weight": block.ffn_norm.weight,
            f"{prefix}.mlp.gate_proj.weight": block.gate.weight,
            f"{prefix}.mlp.up_proj.weight": block.up.weight,
            f"{prefix}.mlp.down_proj.weight": block.down.weight,
        }
    save_file(
        {k: v.detach().float().contiguous() for k, v in tensors.items()},
        str(out / "model.safetensors"),
        metadata={"format": "pt"},
    )
    bos, eos = tokenizer.token_to_id(DEEPSEEK_BOS), tokenizer.token_to_id(DEEPSEEK_EOS)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": shape.vocab,
        "hidden_size": shape.dim,
        "intermediate_size": shape.ffn,
        "num_hidden_layers": shape.layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.heads,
        "head_dim": head_dim,
        "max_position_embeddings": shape.context,
        "rms_norm_eps": shape.eps,
        "rope_theta": shape.rope_theta,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "torch_dtype": "float32",
    }
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": bos, "eos_token_id": eos}) + "\n"
    )
    hf_tokenizer = tokenizer.__class__.from_str(tokenizer.to_str())
    hf_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{DEEPSEEK_BOS} $A", special_tokens=[(DEEPSEEK_BOS, bos)]
    )
    hf_tokenizer.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": DEEPSEEK_BOS,
                "eos_token": DEEPSEEK_EOS,
                "add_bos_token": True,
                "model_max_length": shape.context,
                "clean_up_tokenization_spaces": False,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n"
    )


# ----- evaluation through the project's engine ------------------------------------


async def evaluate(
    path: Path, holes: list[Hole], line_in_middle: bool, region_lines: int = 0
) -> tuple[list[bool], float, float, float]:
    from completion.prompt import build_prompt, detect_family, get_template, probe_token_strings
    from engines.base import GenerationRequest, GenerationUsage
    from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions

    engine = LlamaCppEngine(
        LlamaCppOptions(model_path=str(path), n_ctx=512), probe_tokens=probe_token_strings()
    )
    started = time.perf_counter()
    info = await engine.start()
    load_seconds = time.perf_counter() - started
    family = detect_family(info.name, info.metadata, info.special_tokens or frozenset())
    assert family == "deepseek", f"detected family {family!r}"
    passed: list[bool] = []
    eos = generated = 0
    decode_seconds = 0.0
    for hole in holes:
        region = typed_region(hole, region_lines) if region_lines else None
        middle_start = hole.prefix[len(region.prefix) :] if region is not None else None
        prompt = build_prompt(
            get_template("deepseek"),
            hole.prefix,
            hole.suffix,
            line_in_middle=line_in_middle,
            middle_start=middle_start,
        ).text
        usage = GenerationUsage()
        pieces = [
            p async for p in engine.stream(GenerationRequest(prompt=prompt, max_tokens=64), usage)
        ]
        passed.append("".join(pieces) == hole.middle)
        eos += usage.finish_reason == "stop"
        generated += usage.generated_tokens
        decode_seconds += usage.engine_seconds
    await engine.close()
    return passed, eos / len(holes), generated / max(decode_seconds, 1e-9), load_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)  # as the fixture was made
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--vocab", type=int, default=640)
    parser.add_argument("--out", type=Path, default=ROOT / "tests/fixtures/tiny-dscoder")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(2)
    random.seed(args.seed)
    corpus = [fim_text(h) for h in make_holes(args.seed, 6000)]
    tokenizer = train_tokenizer(corpus, args.vocab)
    shape = Shape(vocab=tokenizer.get_vocab_size())
    model = build_model(shape)
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}; vocab {shape.vocab}")
    seconds = train(model, tokenizer, shape, args.steps, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    gguf_path = args.out / "tiny-dscoder.gguf"
    write_gguf(model, tokenizer, shape, gguf_path)
    write_hf(model, tokenizer, shape, args.out / "hf")

    held_out = make_holes(args.seed + 99, 200)
    # Both prompt forms the server can send: the typed line after the middle
    # marker (the default) and the whole prefix before the hole.
    passed, eos, speed, load = asyncio.run(evaluate(gguf_path, held_out, True))
    prefix_form, _, _, _ = asyncio.run(evaluate(gguf_path, held_out, False))
    passed = [a and b for a, b in zip(passed, prefix_form, strict=True)]
    # And the typed region's form: what was typed 1 to 3 lines up after the marker.
    for lines in (1, 2, 3):
        region_form, _, _, _ = asyncio.run(evaluate(gguf_path, held_out, True, lines))
        print(
            f"held-out exact match, typed region of {lines} lines:"
            f" {sum(region_form) / len(region_form):.1%}"
        )
        passed = [a and b for a, b in zip(passed, region_form, strict=True)]
    exact = sum(passed) / len(passed)
    print(f"training: {args.steps} steps in {seconds:.0f}s")
    print(
        f"held-out exact match, every prompt form: {exact:.1%} of {len(held_out)};"
        f" stopped by EOS: {eos:.1%}"
    )
    print(f"llama.cpp: {speed:.0f} generated tokens/s, load {load * 1000:.0f} ms")
    print(f"gguf size: {gguf_path.stat().st_size / 1e6:.2f} MB")

    examples = []
    for kind in ("single-line", "multi-line", "mid-line"):
        for language, language_id in (("python", "python"), ("javascript", "javascript")):
            # Examples for end-to-end tests: held-out holes the model fills exactly.
            hole = next(
                (
                    h
                    for h, ok in zip(held_out, passed, strict=True)
                    if ok and h.kind == kind and h.language == language
                ),
                None,
            )
            if hole is None:
                continue
            examples.append(
                {
                    "language": language,
                    "languageId": language_id,
                    "kind": kind,
                    "prefix": hole.prefix,
                    "suffix": hole.suffix,
                    "middle": hole.middle,
                }
            )
    (args.out / "examples.json").write_text(json.dumps(examples, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

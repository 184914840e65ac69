"""Context cutting: whole small files, budgets, syntax boundaries, header pinning."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from completion import context as context_module
from completion.context import (
    build_context,
    header_block_end,
)
from completion.document import Document
from completion.languages import path_comment
from completion.pipeline import CompletionOptions, CompletionPipeline
from completion.stats import Stats
from engines.base import TokenEstimator, estimate_tokens
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "tiny-dscoder" / "examples.json"


@dataclass(frozen=True)
class ContextOptions(context_module.ContextOptions):
    """The options without a parse budget: on a busy machine the first parse of
    a grammar can overrun the default 4 ms, and a syntax cut under test would
    fall back to the text rules."""

    parse_budget_ms: float = 0.0


def words(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word, plus lines."""
    return len(text.split()) + text.count("\n")


def function(name: str, lines: int) -> str:
    body = "".join(f"    {name}_{n} = {n} + 1\n" for n in range(lines))
    return f"def {name}(a, b):\n{body}    return a\n\n\n"


IMPORTS = "import os\nimport sys\nfrom pathlib import Path\n\n\n"


def cursor_in(text: str, marker: str = "<|>") -> tuple[str, int]:
    offset = text.index(marker)
    return text.replace(marker, "", 1), offset


@pytest.mark.parametrize("case", json.loads(EXAMPLES.read_text("utf-8")), ids=str)
def test_small_documents_go_in_whole(case: dict[str, Any]) -> None:
    document = Document("file:///x", case["prefix"] + case["suffix"], case["languageId"])
    context = build_context(document, len(case["prefix"]), ContextOptions())
    assert (context.prefix, context.suffix) == (case["prefix"], case["suffix"])
    assert context.skip_reason is None


def test_the_nearest_lines_are_kept_and_the_prefix_gets_more() -> None:
    text = "".join(f"line_{n} = {n}\n" for n in range(400))
    offset = text.index("line_200")
    document = Document("mem://t", text, "plaintext")
    context = build_context(document, offset, ContextOptions(max_tokens=200), estimate_tokens)
    assert text[:offset].endswith(context.prefix)
    assert text[offset:].startswith(context.suffix)
    assert context.prefix.endswith("line_199 = 199\n") and context.suffix.startswith("line_200")
    prefix_cost, suffix_cost = estimate_tokens(context.prefix), estimate_tokens(context.suffix)
    assert prefix_cost + suffix_cost <= 200
    assert prefix_cost > 2 * suffix_cost


@pytest.mark.parametrize("grid", [0, 16])
def test_the_prompt_head_stays_put_while_typing_down_a_big_file(grid: int) -> None:
    text = "".join(f"value_{n} = {n}\n" for n in range(600))
    document = Document("mem://big", text, "plaintext")
    options = ContextOptions(max_tokens=600, stable_head_lines=grid)
    starts = []
    for line in range(300, 340):
        context = build_context(document, document.line_start(line), options, estimate_tokens)
        assert estimate_tokens(context.prefix) + estimate_tokens(context.suffix) <= 600
        assert text[: document.line_start(line)].endswith(context.prefix)
        starts.append(document.line_of(context.prefix_start))
    if grid:
        assert all(start % grid == 0 for start in starts)
        assert len(set(starts)) <= -(-40 // grid) + 1  # one per grid cell the cut crossed
    else:  # nearest lines: the head moves with every line typed
        assert len(set(starts)) >= 35


def test_a_side_that_needs_little_lends_its_budget() -> None:
    text = "".join(f"line_{n} = {n}\n" for n in range(400))
    document = Document("mem://t", text, "plaintext")
    nearest_lines = ContextOptions(max_tokens=200, stable_head_lines=0)
    at_end = build_context(document, len(text), nearest_lines)
    assert estimate_tokens(at_end.prefix) > 160
    at_start = build_context(document, 0, ContextOptions(max_tokens=200))
    assert estimate_tokens(at_start.suffix) > 160


def test_the_engine_counter_sets_the_budget() -> None:
    text = "".join(f"alpha beta gamma {n}\n" for n in range(300))
    document = Document("mem://t", text, "plaintext")
    context = build_context(
        document, text.index("alpha beta gamma 150"), ContextOptions(100), words
    )
    assert words(context.prefix) + words(context.suffix) <= 100
    assert words(context.prefix) >= 60


def test_prefix_cut_moves_to_a_syntax_boundary() -> None:
    text, offset = cursor_in(
        IMPORTS + function("first", 30) + function("second", 8) + "def third(a):\n    <|>\n"
    )
    document = Document("file:///m.py", text, "python")
    options = ContextOptions(max_tokens=160, prefix_share=0.9, pin_header=False)
    context = build_context(document, offset, options, estimate_tokens)
    # Cut by lines alone it would start inside first(); it starts after it.
    plain = build_context(
        document, offset, ContextOptions(160, 0.9, syntax_cut=False, pin_header=False)
    )
    assert plain.prefix.startswith("    first_")
    assert context.prefix.lstrip("\n").startswith("def second(a, b):\n")
    assert context.prefix_start > plain.prefix_start


def test_prefix_cut_prefers_the_nearest_lines_over_a_clean_start() -> None:
    # The construct before the cursor is so long that cutting after it would
    # drop most of the budget: the line cut stays, nearest lines win.
    text, offset = cursor_in(function("long", 200) + "def tail(a):\n    <|>\n")
    document = Document("file:///m.py", text, "python")
    context = build_context(document, offset, ContextOptions(max_tokens=300, prefix_share=0.95))
    assert estimate_tokens(context.prefix) > 200
    assert "long_199" in context.prefix


def test_suffix_cut_ends_before_a_construct_it_would_cut() -> None:
    text, offset = cursor_in(
        "def head(a):\n    <|>\n    return a\n\n\n" + function("next_one", 8) + function("z", 30)
    )
    document = Document("file:///m.py", text, "python")
    context = build_context(document, offset, ContextOptions(150, 0.2), estimate_tokens)
    plain = build_context(document, offset, ContextOptions(150, 0.2, syntax_cut=False))
    assert "z_" in plain.suffix
    assert context.suffix.startswith("\n    return a\n")
    assert context.suffix.endswith("    return a\n\n\n") and "def z" not in context.suffix


def test_cut_in_braces_language_starts_at_a_statement() -> None:
    blocks = "".join(
        f"function f{n}(a) {{\n" + "".join(f"  const v{k} = a + {k};\n" for k in range(12)) + "}\n"
        for n in range(20)
    )
    text, offset = cursor_in(blocks + "function last(a) {\n  <|>\n}\n")
    document = Document("file:///m.js", text, "javascript")
    context = build_context(document, offset, ContextOptions(max_tokens=300, prefix_share=0.9))
    assert context.prefix_start > 0
    assert context.prefix.startswith("function f")


def test_the_import_block_is_pinned_when_the_prefix_is_cut() -> None:
    text, offset = cursor_in(
        '"""Module doc."""\n' + IMPORTS + function("a", 60) + "def b(x):\n    <|>\n"
    )
    document = Document("file:///m.py", text, "python")
    context = build_context(document, offset, ContextOptions(max_tokens=300))
    block = '"""Module doc."""\n' + IMPORTS.rstrip("\n") + "\n"
    assert context.pinned == len(block)
    assert context.prefix.startswith(block)
    assert context.prefix.endswith("def b(x):\n    ")
    assert context.prefix_start > len(block)
    off = build_context(document, offset, ContextOptions(max_tokens=300, pin_header=False))
    assert off.pinned == 0 and not off.prefix.startswith('"""')
    small = build_context(document, offset, ContextOptions(max_tokens=300, header_share=0.01))
    assert small.pinned == 0


@pytest.mark.parametrize(
    ("language_id", "uri", "text", "last_line"),
    [
        ("go", "file:///m.go", 'package main\n\nimport (\n\t"fmt"\n)\n\nfunc main() {}\n', 4),
        ("rust", "file:///m.rs", "use std::io;\n// c\nuse std::fmt;\n\nfn main() {}\n", 2),
        ("typescript", "file:///m.ts", "import x from 'y';\n\nconst a = 1;\n", 0),
        ("c", "file:///m.c", "#include <stdio.h>\n#include <x.h>\nint main() {}\n", 1),
        ("java", "file:///M.java", "package a;\nimport b.C;\nclass M {}\n", 1),
        ("ruby", "file:///m.rb", "require 'json'\nrequire_relative 'x'\n\nclass A\nend\n", 1),
        ("plaintext", "file:///m.zig", 'const std = @import("std");\n\npub fn main() {}\n', -1),
        ("plaintext", "file:///m.txt", "import a\nfrom b import c\nx = 1\n", 1),
        ("python", "file:///m.py", "x = 1\nimport os\n", -1),
    ],
)
def test_header_block_end(language_id: str, uri: str, text: str, last_line: int) -> None:
    document = Document(uri, text, language_id)
    assert header_block_end(document, document.syntax_tree()) == last_line


def test_rest_of_line_goes_verbatim_into_the_suffix() -> None:
    text, offset = cursor_in("total = compute(<|>)  # note\nprint(total)\n")
    document = Document("file:///m.py", text, "python")
    context = build_context(document, offset, ContextOptions())
    assert context.line_suffix == ")  # note"
    assert context.suffix == ")  # note\nprint(total)\n"
    assert not context.multiline


def test_file_path_header_in_the_language_comment_syntax() -> None:
    assert path_comment("src/app.py", "python") == "# src/app.py\n"
    assert path_comment("src/app.ts", "typescript") == "// src/app.ts\n"
    assert path_comment("init.lua", "lua") == "-- init.lua\n"
    assert path_comment("data.json", "json") == ""
    assert path_comment("x.hs", None, "haskell") == "-- x.hs\n"
    document = Document("file:///src/app.py", "x = 1\n", "python")
    off = build_context(document, 5, ContextOptions(), file_path="src/app.py")
    assert off.header == ""
    on = build_context(document, 5, ContextOptions(file_path_header=True), file_path="src/app.py")
    assert on.header == "# src/app.py\n" and on.prefix == "x = 1"


def test_non_ascii_document_is_cut_on_lines() -> None:
    text = "".join(f"名前_{n} = '😀{n}'\n" for n in range(300))
    offset = text.index("名前_150")
    document = Document("file:///u.py", text, "python")
    context = build_context(document, offset, ContextOptions(max_tokens=200))
    assert context.prefix.endswith("名前_149 = '😀149'\n")
    assert context.suffix.startswith("名前_150")
    assert text[context.prefix_start : offset] == context.prefix


def test_a_cursor_line_over_budget_is_clipped() -> None:
    text = "x = " + "1 + " * 400 + "1\n"
    document = Document("mem://long", text, "plaintext")
    options = ContextOptions(max_tokens=40, prefix_share=0.75)
    context = build_context(document, 800, options)
    assert 0 < estimate_tokens(context.prefix) <= 30
    assert text[:800].endswith(context.prefix)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from(["def f(a):\n", "    x = 1\n", "\n", "class C:\n", "  é\n"]), max_size=120
    ),
    st.floats(0, 1),
    st.integers(0, 120),
    st.sampled_from(["python", "plaintext"]),
)
def test_context_is_always_the_text_around_the_cursor_within_budget(
    lines: list[str], where: float, budget: int, language_id: str
) -> None:
    text = "".join(lines)
    offset = int(where * len(text))
    document = Document("mem://p", text, language_id)
    context = build_context(document, offset, ContextOptions(max_tokens=budget), estimate_tokens)
    pinned = context.prefix[: context.pinned]
    assert text.startswith(pinned)
    assert text[context.prefix_start : offset] == context.prefix[context.pinned :]
    assert text[offset : context.suffix_end] == context.suffix
    assert estimate_tokens(context.prefix) + estimate_tokens(context.suffix) <= budget + 2


def test_token_estimator_counts_bytes_and_learns_from_the_engine() -> None:
    counter = TokenEstimator()
    assert counter("abc" * 10) == 11
    assert counter("漢字" * 10) > counter("ab" * 10)
    counter.observe("x" * 400, 100)  # 4 bytes per token: trusted slowly
    assert 3.0 < counter.bytes_per_token < 4.0 and counter.version == 1
    counter.observe("x" * 200, 100)  # 2 bytes per token: learned at once
    assert counter.bytes_per_token == 2.0
    counter.observe("x", 0)  # nothing to learn from
    assert counter.version == 2


@pytest.fixture
async def tiny_pipeline(tiny_model: Path) -> AsyncIterator[CompletionPipeline]:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model), n_ctx=512))
    await engine.start()
    yield CompletionPipeline(engine, CompletionOptions(max_tokens=64), Stats())
    await engine.close()


@pytest.mark.slow
async def test_the_budget_fits_the_model_window(tiny_pipeline: CompletionPipeline) -> None:
    # Only a multi-line request reserves the multi-line budget (2 x 64).
    single, multi = tiny_pipeline.context_options(False), tiny_pipeline.context_options(True)
    assert 0 < single.max_tokens <= 512 - 64 and 0 < multi.max_tokens <= 512 - 128
    assert multi.max_tokens == single.max_tokens - 64
    # A big file: the exact prompt plus the longest completion fits in n_ctx.
    text = "".join(f"漢字_{n} = value_{n} + 1  # 😀\n" for n in range(2000))
    document = Document("file:///big.py", text + "\n", "python")
    offset = text.index("漢字_1000")
    context = tiny_pipeline.make_context(document, offset)
    context, prompt = await tiny_pipeline.fit_prompt(document, offset, None, context)
    exact = await tiny_pipeline.engine.count_tokens(prompt.text)
    assert exact + tiny_pipeline.max_tokens(context.multiline) + 1 <= 512
    result = await tiny_pipeline.complete(document, offset)
    assert result.usage.prompt_tokens_total + result.usage.generated_tokens <= 512


@pytest.mark.slow
async def test_max_tokens_keeps_half_the_window(tiny_model: Path) -> None:
    engine = LlamaCppEngine(LlamaCppOptions(model_path=str(tiny_model), n_ctx=512))
    await engine.start()
    try:
        pipeline = CompletionPipeline(engine, CompletionOptions(max_tokens=2048), Stats())
        assert pipeline.max_tokens(False) == pipeline.max_tokens(True) == 256
        assert pipeline.context_options(True).max_tokens > 0
        document = Document("file:///a.py", "def add(a, b):\n    return a + b\n\nx = ", "python")
        result = await pipeline.complete(document, len(document.text))
        assert result.usage.prompt_tokens_total + result.usage.generated_tokens <= 512
    finally:
        await engine.close()


@pytest.mark.slow
async def test_a_prompt_the_estimate_let_through_is_recounted_and_retried(
    tiny_pipeline: CompletionPipeline,
) -> None:
    # A budget well inside the window skips the exact count, and an estimator
    # that thinks tokens are 100 bytes long lets a far too long prompt through.
    # The engine rejects it; the pipeline recounts exactly, recalibrates, and
    # cuts the context again at the same budget.
    options = CompletionOptions(max_tokens=64, context=ContextOptions(max_tokens=200))
    pipeline = CompletionPipeline(tiny_pipeline.engine, options, Stats())
    pipeline.counter = TokenEstimator(bytes_per_token=100)
    pipeline.counter.calibrated = True  # as if it had been, wrongly
    text = "".join(f"漢字_{n} = value_{n} + 1  # 😀\n" for n in range(2000))
    document = Document("file:///big.py", text + "\n", "python")
    offset = text.index("漢字_1000")
    result = await pipeline.complete(document, offset)
    assert 100 < result.usage.prompt_tokens_total <= 200 + 16
    assert result.usage.finish_reason != "error"
    assert pipeline.counter.bytes_per_token < 4


BLOCK_LANGUAGES = {
    "go": (
        "file:///m.go",
        "func f{n}(a int) int {{\n{body}\treturn a\n}}\n\n",
        "\tv{k} := a + {k}\n",
    ),
    "rust": (
        "file:///m.rs",
        "fn f{n}(a: i32) -> i32 {{\n{body}    a\n}}\n\n",
        "    let v{k} = a + {k};\n",
    ),
    "typescript": (
        "file:///m.ts",
        "function f{n}(a: number): number {{\n{body}  return a;\n}}\n\n",
        "  const v{k} = a + {k};\n",
    ),
    "python": ("file:///m.py", "def f{n}(a):\n{body}    return a\n\n\n", "    v{k} = a + {k}\n"),
}


@pytest.mark.parametrize("language_id", sorted(BLOCK_LANGUAGES))
@pytest.mark.parametrize("budget", [120, 170, 230, 290, 350])
def test_cuts_never_split_a_function_that_lacks_the_cursor(language_id: str, budget: int) -> None:
    uri, template, statement = BLOCK_LANGUAGES[language_id]
    functions = [
        template.format(n=n, body="".join(statement.format(k=k) for k in range(6)))
        for n in range(30)
    ]
    # The cursor goes on a new line at the top of function 15's body.
    head, _, tail = functions[15].partition("\n")
    functions[15] = head + "\n\n" + tail
    text = "".join(functions)
    cursor = text.index(functions[15]) + len(head) + 1
    document = Document(uri, text, language_id)
    context = build_context(document, cursor, ContextOptions(max_tokens=budget))
    assert context.prefix_start > 0 and context.suffix_end < len(text)
    starts = [text.index(function) for function in functions]
    ends = [
        start + len(function.rstrip("\n")) + 1
        for start, function in zip(starts, functions, strict=True)
    ]
    # The prefix starts at a function (or in the blank lines before one) ...
    assert any(
        start >= context.prefix_start and not text[context.prefix_start : start].strip()
        for start in starts
    )
    # ... and the suffix stops inside the cursor's own function, or at the end
    # of a later one (or in the blank lines after it).
    assert context.suffix_end <= ends[15] or any(
        end <= context.suffix_end and not text[end : context.suffix_end].strip() for end in ends
    )

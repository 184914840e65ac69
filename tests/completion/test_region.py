"""Typed-region anchoring: the prompt keeps its cut while the user types in one place."""

from __future__ import annotations

import dataclasses
import itertools

from completion.context import Context, ContextOptions, build_context
from completion.document import Document
from completion.prompt import build_prompt, get_template
from completion.region import TypedRegions
from engines.base import estimate_tokens

FILE = "".join(f"def f{n}(a, b):\n    return a + b + {n}\n\n\n" for n in range(60))
OPTIONS = ContextOptions(max_tokens=400)


def context_at(
    regions: TypedRegions, document: Document, offset: int, options: ContextOptions = OPTIONS
) -> Context:
    fresh = build_context(document, offset, options, estimate_tokens)

    def cut(budget: int) -> Context:
        smaller = dataclasses.replace(options, max_tokens=budget)
        return build_context(document, offset, smaller, estimate_tokens)

    return regions.apply(document, offset, fresh, options, estimate_tokens, cut)


def prompt_of(context: Context) -> str:
    typed = context.prefix[len(context.prefix) - context.typed :] if context.typed else None
    return build_prompt(
        get_template("deepseek"),
        context.prefix,
        context.suffix,
        line_in_middle=True,
        middle_start=typed,
    ).text


def type_text(document: Document, offset: int, text: str) -> int:
    document.replace(offset, offset, text)
    return offset + len(text)


def test_typing_across_lines_only_appends_to_the_prompt() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    cursor = document.line_start(122)  # in a body, after the indentation
    first = prompt_of(context_at(regions, document, cursor))
    prompts = [first]
    for key in "    x = a * 2\n    y = x - b\n    z":
        cursor = type_text(document, cursor, key)
        context = context_at(regions, document, cursor)
        # The context is still the document's text around the cursor.
        assert context.prefix.endswith(document.text[context.prefix_start : cursor])
        assert document.text.startswith(context.suffix, cursor)
        prompts.append(prompt_of(context))
    for before, after in itertools.pairwise(prompts):
        assert after.startswith(before)
    assert prompts[-1].endswith("x = a * 2\n    y = x - b\n    z")
    assert regions.reanchored == 1


def test_an_edit_elsewhere_anchors_again() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    cursor = document.line_start(122)
    context_at(regions, document, cursor)
    cursor = type_text(document, cursor, "x = 1\n    ")
    assert context_at(regions, document, cursor).typed == len("x = 1\n    ")
    # An edit in the prefix (above the anchor) and one in the suffix.
    above = document.line_start(118)
    document.replace(above, above, "# note\n")
    cursor += len("# note\n")
    context = context_at(regions, document, cursor)
    assert context.typed == 0 and regions.reanchored == 2
    cursor = type_text(document, cursor, "y")
    assert context_at(regions, document, cursor).typed == 1
    below = cursor + 10
    document.replace(below, below, "#")
    context = context_at(regions, document, cursor)
    assert regions.reanchored == 3
    assert document.text.startswith(context.suffix, cursor)


def test_the_cursor_leaving_the_region_anchors_again() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    cursor = document.line_start(122)
    context_at(regions, document, cursor)
    cursor = type_text(document, cursor, "x = 1\n    y = 2")
    context_at(regions, document, cursor)
    # Back up into the region: the text after the cursor is not the anchored suffix.
    context = context_at(regions, document, cursor - 2)
    assert regions.reanchored == 2 and context.typed == len("y =")
    # Before the anchor.
    context_at(regions, document, cursor - 40)
    assert regions.reanchored == 3


def test_the_region_is_bounded_in_lines_and_tokens() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    options = ContextOptions(max_tokens=400, typed_region_lines=2, typed_region_tokens=1000)
    cursor = document.line_start(122)
    context_at(regions, document, cursor, options)
    for _ in range(3):
        cursor = type_text(document, cursor, "x = 1\n    ")
        context_at(regions, document, cursor, options)
    assert regions.reanchored == 2  # the third line break is past the bound
    tokens = ContextOptions(max_tokens=400, typed_region_tokens=5)
    cursor = type_text(document, cursor, "y")
    context_at(regions, document, cursor, tokens)
    cursor = type_text(document, cursor, "yyyyyyyyyyyyyyyyyyyy")
    assert context_at(regions, document, cursor, tokens).typed == len("y" * 21)  # same line
    assert regions.reanchored == 3


def test_a_region_that_would_overflow_the_budget_anchors_again() -> None:
    small = "def f(a):\n    return a\n"
    document = Document("file:///a.py", small, "python")
    regions = TypedRegions()
    options = ContextOptions(max_tokens=60)
    cursor = len("def f(a):\n    ")
    context_at(regions, document, cursor, options)
    for _ in range(10):
        cursor = type_text(document, cursor, "value = a * 3 + a * 4\n    ")
        context = context_at(regions, document, cursor, options)
        prompt_tokens = estimate_tokens(context.prefix) + estimate_tokens(context.suffix)
        assert prompt_tokens <= options.max_tokens + 2
    assert regions.reanchored >= 2


def test_the_line_rule_without_line_in_middle_anchors_at_the_cursor() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    options = ContextOptions(max_tokens=400, line_in_middle=False)
    cursor = document.line_start(122)
    assert context_at(regions, document, cursor, options).typed == 0
    cursor = type_text(document, cursor, "    ab\n")
    assert context_at(regions, document, cursor, options).typed == 7


def test_a_skipped_context_leaves_the_region_alone() -> None:
    document = Document("file:///a.py", FILE, "python")
    regions = TypedRegions()
    cursor = document.line_start(122)
    fresh = build_context(document, cursor, OPTIONS, estimate_tokens)
    skipped = Context(**{**fresh.__dict__, "skip_reason": "test"})
    assert regions.apply(document, cursor, skipped, OPTIONS, estimate_tokens) is skipped
    assert regions.reanchored == 0

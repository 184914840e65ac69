"""FIM templates and family detection."""

from __future__ import annotations

import itertools

import pytest

from completion.prompt import (
    DEEPSEEK_EOS,
    DEEPSEEK_EOT,
    TEMPLATES,
    UnknownTemplateError,
    build_prompt,
    detect_family,
    get_template,
)


def test_deepseek_template_is_byte_exact() -> None:
    prompt = build_prompt(get_template("deepseek"), "def f(x):\n    ", "\n    return y\n")
    expected = (
        "<\uff5cfim\u2581begin\uff5c>def f(x):\n    "
        "<\uff5cfim\u2581hole\uff5c>\n    return y\n<\uff5cfim\u2581end\uff5c>"
    )
    assert prompt.text == expected
    assert "<｜fim▁begin｜>" in prompt.text  # the literal characters, U+FF5C and U+2581
    assert prompt.stop[:2] == (DEEPSEEK_EOS, DEEPSEEK_EOT)
    assert DEEPSEEK_EOS == "<｜end▁of▁sentence｜>"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("starcoder", "<fim_prefix>P<fim_suffix>S<fim_middle>"),
        ("qwen", "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"),
        ("codellama", "<PRE> P <SUF>S <MID>"),
        ("codestral", "[SUFFIX]S[PREFIX]P"),
        ("plain", "P"),
    ],
)
def test_other_families(name: str, expected: str) -> None:
    assert build_prompt(get_template(name), "P", "S").text == expected


def test_braces_and_placeholders_in_code_are_kept_verbatim() -> None:
    prefix, suffix = "x = {prefix} + f'{y}'", "{suffix}"
    text = build_prompt(get_template("deepseek"), prefix, suffix).text
    assert prefix in text and text.count("{suffix}") == 1


def test_extra_stop_sequences_are_appended_once() -> None:
    prompt = build_prompt(get_template("deepseek"), "a", "b", extra_stop=("\n\n", DEEPSEEK_EOS))
    assert prompt.stop.count(DEEPSEEK_EOS) == 1 and prompt.stop[-1] == "\n\n"


def test_unknown_template_names_the_known_ones() -> None:
    with pytest.raises(UnknownTemplateError, match="deepseek"):
        get_template("gpt-j")


@pytest.mark.parametrize("family", ["deepseek", "starcoder", "qwen", "codellama", "codestral"])
def test_detects_family_from_vocabulary(family: str) -> None:
    tokens = frozenset(TEMPLATES[family].probe_tokens)
    assert detect_family("renamed-q4.gguf", {}, tokens) == family


def test_detects_family_from_metadata_name() -> None:
    metadata = {"general.name": "deepseek-ai_deepseek-coder-1.3b-base"}
    assert detect_family("model.gguf", metadata, frozenset()) == "deepseek"
    assert detect_family("Qwen2.5-Coder-1.5B", {}, frozenset()) == "qwen"


def test_vocabulary_beats_a_misleading_name() -> None:
    tokens = frozenset(TEMPLATES["starcoder"].probe_tokens)
    assert detect_family("deepseek-finetune", {}, tokens) == "starcoder"


def test_no_evidence_means_no_family() -> None:
    assert detect_family("SmolLM2-135M", {"general.name": "SmolLM2"}, frozenset()) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deepseek", "<｜fim▁begin｜>def f(x):\n    <｜fim▁hole｜>)\n<｜fim▁end｜>y = f("),
        ("starcoder", "<fim_prefix>def f(x):\n    <fim_suffix>)\n<fim_middle>y = f("),
        ("qwen", "<|fim_prefix|>def f(x):\n    <|fim_suffix|>)\n<|fim_middle|>y = f("),
    ],
)
def test_the_typed_line_goes_after_the_middle_marker(name: str, expected: str) -> None:
    prefix = "def f(x):\n    y = f("
    prompt = build_prompt(get_template(name), prefix, ")\n", line_in_middle=True)
    assert prompt.text == expected
    assert (prompt.prefix, prompt.middle_start) == (prefix, "y = f(")


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_only_the_cursor_line_moves_whatever_the_line_ending(newline: str) -> None:
    prefix = f"import os{newline}{newline}def f(x):{newline}\ty = f("
    prompt = build_prompt(get_template("deepseek"), prefix, ")", line_in_middle=True)
    assert prompt.middle_start == "y = f("
    assert prompt.text.startswith(f"<｜fim▁begin｜>import os{newline}")


def test_the_file_path_header_stays_at_the_head() -> None:
    prefix = "# a.py\nx = 1\ny = "
    prompt = build_prompt(get_template("deepseek"), prefix, "\n", line_in_middle=True)
    assert prompt.text == "<｜fim▁begin｜># a.py\nx = 1\n<｜fim▁hole｜>\n<｜fim▁end｜>y = "


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_code_that_spells_a_template_field_is_left_alone(name: str) -> None:
    prefix, suffix = 'f"{suffix} and {prefix}"\n', 'g("{prefix}")\n'
    text = get_template(name).render(prefix, suffix)
    assert text.count(prefix) == 1
    assert name == "plain" or text.count(suffix) == 1


def test_typing_along_a_line_only_appends_to_the_prompt() -> None:
    # What lets the engine reuse its cached prompt for all but the new keys.
    line = "    total = price * count"
    suffix = "\n    return total\n" * 20
    prompts = [
        build_prompt(
            get_template("deepseek"),
            "def f(price, count):\n" + line[:n],
            suffix,
            line_in_middle=True,
        ).text
        for n in range(4, len(line) + 1)
    ]
    for before, after in itertools.pairwise(prompts):
        assert after.startswith(before) and len(after) == len(before) + 1
    # With the line at the end of the prefix, each key changes the prompt before the suffix.
    plain = [
        build_prompt(get_template("deepseek"), "def f():\n" + line[:n], suffix).text
        for n in (10, 11)
    ]
    assert not plain[1].startswith(plain[0])


@pytest.mark.parametrize("name", ["codellama", "codestral", "plain"])
def test_templates_whose_middle_does_not_follow_keep_the_line_in_the_prefix(name: str) -> None:
    template = get_template(name)
    moved = build_prompt(template, "a = 1\nb = f(", ")\n", line_in_middle=True)
    assert moved == build_prompt(template, "a = 1\nb = f(", ")\n")
    assert moved.middle_start == ""


@pytest.mark.parametrize("prefix", ["def f():\n    ", "x = 1\n", ""])
def test_nothing_typed_on_the_line_gives_the_plain_prompt(prefix: str) -> None:
    template = get_template("deepseek")
    assert build_prompt(template, prefix, "S", line_in_middle=True).text == (
        build_prompt(template, prefix, "S").text
    )

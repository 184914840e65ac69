"""Golden prompts: DeepSeek Coder's repository format, per language.

Other files' snippets come first, each under its path as a comment in its
own syntax, dependencies (imports) before open files and recent chunks; then
the current file under its own path comment; all inside the prefix, after
the FIM begin marker. Templates with a file-separator token use the token.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from completion.context import ContextOptions
from completion.crossfile.options import CrossFileOptions
from completion.crossfile.provider import CrossFileProvider
from completion.pipeline import CompletionOptions
from completion.prompt import DEEPSEEK_FIM_BEGIN as BEGIN
from completion.prompt import DEEPSEEK_FIM_END as END
from completion.prompt import DEEPSEEK_FIM_HOLE as HOLE
from tests.completion.crossfile.workspace import document, pipeline, write

IMPORTS_ONLY = ContextOptions(cross_file=CrossFileOptions(sources=("imports",)))

CASES = {
    "python": (
        {
            "pkg/__init__.py": "",
            "pkg/shapes.py": (
                "import math\n\n\n"
                "class Circle:\n"
                '    """A circle by its radius."""\n\n'
                "    def __init__(self, radius: float) -> None:\n"
                "        self.radius = radius\n\n"
                "    def area(self) -> float:\n"
                "        return math.pi * self.radius**2\n"
            ),
            "pkg/app.py": "from pkg.shapes import Circle\n\n\ndef total(radii):\n    return sum(",
        },
        "pkg/app.py",
        "python",
        BEGIN + "# pkg/shapes.py\n"
        "class Circle:\n"
        '    """A circle by its radius."""\n'
        "\n"
        "    def __init__(self, radius: float) -> None:\n"
        "    def area(self) -> float:\n"
        "\n"
        "# pkg/app.py\n"
        "from pkg.shapes import Circle\n\n\ndef total(radii):\n    " + HOLE + END + "return sum(",
    ),
    "typescript": (
        {
            "src/money.ts": (
                "/** Cents, never floats. */\n"
                "export function toCents(amount: number): number {\n"
                "  const cents = Math.round(amount * 100);\n"
                "  check(cents);\n"
                "  return cents;\n"
                "}\n"
            ),
            "src/cart.ts": 'import { toCents } from "./money";\n\nexport const total = ',
        },
        "src/cart.ts",
        "typescript",
        BEGIN + "// src/money.ts\n"
        "/** Cents, never floats. */\n"
        "export function toCents(amount: number): number {\n"
        "  const cents = Math.round(amount * 100);\n"
        "\n"
        "// src/cart.ts\n"
        'import { toCents } from "./money";\n\n' + HOLE + END + "export const total = ",
    ),
    "go": (
        {
            "go.mod": "module example.com/shop\n",
            "price/price.go": (
                "package price\n\n"
                "// Discount takes pct percent off cents.\n"
                "func Discount(cents, pct int) int {\n"
                "\tcut := cents * pct / 100\n"
                "\tlog(cut)\n"
                "\treturn cents - cut\n"
                "}\n"
            ),
            "cmd/main.go": (
                'package main\n\nimport "example.com/shop/price"\n\n'
                "func main() {\n\tx := price.Discount("
            ),
        },
        "cmd/main.go",
        "go",
        BEGIN + "// price/price.go\n"
        "// Discount takes pct percent off cents.\n"
        "func Discount(cents, pct int) int {\n"
        "\tcut := cents * pct / 100\n"
        "\n"
        "// cmd/main.go\n"
        'package main\n\nimport "example.com/shop/price"\n\nfunc main() {\n\t'
        + HOLE
        + END
        + "x := price.Discount(",
    ),
    "rust": (
        {
            "Cargo.toml": '[package]\nname = "shop"\n',
            "src/price.rs": (
                "/// Takes pct percent off cents.\n"
                "pub fn discount(cents: u64, pct: u64) -> u64 {\n"
                "    let cut = cents * pct / 100;\n"
                "    log(cut);\n"
                "    cents - cut\n"
                "}\n"
            ),
            "src/main.rs": "mod price;\nuse crate::price::discount;\n\nfn main() {\n    let x = ",
        },
        "src/main.rs",
        "rust",
        BEGIN + "// src/price.rs\n"
        "/// Takes pct percent off cents.\n"
        "pub fn discount(cents: u64, pct: u64) -> u64 {\n"
        "    let cut = cents * pct / 100;\n"
        "\n"
        "// src/main.rs\n"
        "mod price;\nuse crate::price::discount;\n\nfn main() {\n    " + HOLE + END + "let x = ",
    ),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_repository_format(tmp_path: Path, language: str) -> None:
    files, current, language_id, expected = CASES[language]
    write(tmp_path, files)
    provider = CrossFileProvider(str(tmp_path))
    stages = pipeline(CompletionOptions(context=IMPORTS_ONLY))
    stages.cross_file = provider
    doc = document(tmp_path, current, language_id)
    context = stages.make_context(doc, len(doc.text), current)
    prompt = stages.make_prompt(context)
    assert prompt.text == expected
    # The snippets travel apart too, for servers that take them so (/infill input_extra).
    merged: dict[str, list[str]] = {}
    for snippet in context.snippets:
        merged.setdefault(snippet.path, []).append(snippet.text)
    assert prompt.files == tuple((path, "\n".join(texts)) for path, texts in merged.items())
    assert prompt.prefix[prompt.files_chars :].startswith(
        {"python": "# ", "typescript": "// ", "go": "// ", "rust": "// "}[language] + current
    )


def test_a_file_separator_token_where_the_template_has_one(tmp_path: Path) -> None:
    files, current, language_id, _ = CASES["python"]
    write(tmp_path, files)
    stages = pipeline(CompletionOptions(template="starcoder", context=IMPORTS_ONLY))
    stages.cross_file = CrossFileProvider(str(tmp_path))
    doc = document(tmp_path, current, language_id)
    prompt = stages.make_prompt(stages.make_context(doc, len(doc.text), current))
    assert prompt.text.startswith("<fim_prefix><file_sep>pkg/shapes.py\nclass Circle:\n")
    assert "\n<file_sep>pkg/app.py\nfrom pkg.shapes import Circle\n" in prompt.text


def test_no_snippets_no_change(tmp_path: Path) -> None:
    files, current, language_id, _ = CASES["python"]
    write(tmp_path, files)
    off = dataclasses.replace(IMPORTS_ONLY, cross_file=CrossFileOptions(enabled=False))
    stages = pipeline(CompletionOptions(context=off))
    stages.cross_file = CrossFileProvider(str(tmp_path))
    doc = document(tmp_path, current, language_id)
    context = stages.make_context(doc, len(doc.text), current)
    assert context.snippets == () and context.header == ""
    assert stages.make_prompt(context).text.startswith(BEGIN + "from pkg.shapes import Circle")


def test_the_current_file_gets_what_the_snippets_leave(tmp_path: Path) -> None:
    files, current, language_id, _ = CASES["python"]
    body = "".join(f"value_{n} = {n}\n" for n in range(400))
    write(tmp_path, {**files, current: files[current].replace("\n\n\ndef", "\n" + body + "\ndef")})
    options = dataclasses.replace(IMPORTS_ONLY, max_tokens=300)
    stages = pipeline(CompletionOptions(context=options))
    stages.cross_file = CrossFileProvider(str(tmp_path))
    doc = document(tmp_path, current, language_id)
    context = stages.make_context(doc, len(doc.text), current)
    assert context.snippets
    used = stages.counter(context.header + context.prefix + context.suffix)
    assert used <= 300 + 4  # rounding of the per-piece estimates

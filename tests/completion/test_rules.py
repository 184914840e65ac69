"""Each post-processing rule of issue 16 on its own golden cases (tests/completion/golden/rules).

The format is that of tests/completion/golden, with two additions:
- the header names the rule first, ``=== <rule>: <case> [auto|single|multi]``;
  ``auto`` lets the server's own decision rules pick single- or multi-line;
- an optional ``--- accepted`` section is the whole document after the item
  is accepted (its range replacing what it covers), so a case can show that
  each closer is left once and that lines are not glued together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from completion.context import Context
from completion.decisions import decide
from completion.document import Document
from completion.postprocess import postprocess_insertion

RULES_DIR = Path(__file__).parent / "golden" / "rules"
CURSOR = "<|cursor|>"
EOT = "<|EOT|>"
RULES = (
    "before-text",
    "closers",
    "line-end",
    "scope",
    "indent",
    "balance",
    "whitespace",
    "elsewhere",
    "repetition",
    "harm",
)
"""Issue 16's failure classes 1-9, then the harm guard (docs/postprocessing.md)."""
EXTENSIONS = {"python": "py", "typescript": "ts", "go": "go", "rust": "rs"}


@dataclass(frozen=True)
class RuleCase:
    language_id: str
    rule: str
    name: str
    mode: str
    source: str
    output: str
    expected: str
    accepted: str | None


def load(path: Path) -> list[RuleCase]:
    cases: list[RuleCase] = []
    header: str | None = None
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None

    def finish() -> None:
        if header is None:
            return
        title, _, mode = header.rpartition(" [")
        rule, _, name = title.partition(": ")
        text = {key: "\n".join(lines).rstrip("\n") for key, lines in sections.items()}
        cases.append(
            RuleCase(
                path.stem,
                rule.strip(),
                name.strip(),
                mode.rstrip("]"),
                text["source"] + "\n",
                text["output"],
                text["expected"],
                text.get("accepted"),
            )
        )

    for line in path.read_text().split("\n"):
        if line.startswith("=== "):
            finish()
            header, sections, current = line[4:].strip(), {}, None
        elif line.startswith("--- ") and header is not None:
            current = sections.setdefault(line[4:].strip(), [])
        elif current is not None:
            current.append(line)
    finish()
    return cases


CASES = [case for path in sorted(RULES_DIR.glob("*.golden")) for case in load(path)]


def context_for(case: RuleCase) -> Context:
    prefix, suffix = case.source.split(CURSOR)
    multiline = case.mode == "multi"
    if case.mode == "auto":
        uri = f"file:///case.{EXTENSIONS[case.language_id]}"
        document = Document(uri, prefix + suffix, case.language_id)
        decision = decide(document, len(prefix), document.syntax_tree())
        assert decision.skip_reason is None, decision
        multiline = decision.multiline
    line_prefix = prefix.rsplit("\n", 1)[-1]
    return Context(
        prefix=prefix,
        suffix=suffix,
        language_id=case.language_id,
        multiline=multiline,
        line_prefix=line_prefix,
        line_suffix=suffix.split("\n", 1)[0],
        indent=line_prefix[: len(line_prefix) - len(line_prefix.lstrip(" \t"))],
    )


def test_every_rule_has_cases_in_every_language() -> None:
    assert all(case.rule in RULES for case in CASES), {case.rule for case in CASES} - set(RULES)
    for language in EXTENSIONS:
        rules = {case.rule for case in CASES if case.language_id == language}
        assert rules == set(RULES), (language, set(RULES) - rules)
    assert all(case.source.count(CURSOR) == 1 for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.language_id}: {c.rule}: {c.name}" for c in CASES])
def test_rule(case: RuleCase) -> None:
    context = context_for(case)
    insertion = postprocess_insertion(case.output, context, stop=[EOT])
    assert insertion.text.rstrip() == case.expected.rstrip()
    if case.accepted is not None:
        prefix, suffix = case.source.split(CURSOR)
        after = prefix + insertion.text + suffix[insertion.replaces :]
        assert after.rstrip("\n") == case.accepted.rstrip("\n")


# --- each rule called alone


def plain(prefix: str, suffix: str, language_id: str = "python") -> Context:
    line_prefix = prefix.rsplit("\n", 1)[-1]
    return Context(prefix, suffix, language_id, True, line_prefix, suffix.split("\n", 1)[0])


def test_placement_and_working_views() -> None:
    from completion.placement import Placement, placement_of, working_view

    assert placement_of(plain("def f():\n    ", "\n")) is Placement.EMPTY_LINE
    before = plain("def f():\n", "    return 1\n")
    assert placement_of(before) is Placement.BEFORE_TEXT
    assert working_view(before).suffix == "\n    return 1\n"
    closers = plain("f(", ");\nx\n", "typescript")
    assert placement_of(closers) is Placement.BEFORE_CLOSERS
    assert working_view(closers).suffix == "\nx\n"
    assert placement_of(plain("x = ", "\n")) is Placement.LINE_END
    assert placement_of(plain("f(", "a)\n")) is Placement.MID_LINE


def test_retype_closers_weighs_three_readings() -> None:
    from completion.rules import Insertion, retype_closers

    context = plain("def area(", ")\n")
    assert retype_closers("w, h):\n    return w * h", context) == Insertion(
        "w, h):\n    return w * h", 1
    )
    assert retype_closers("w, h)", context) == Insertion("w, h")
    assert retype_closers("w, h", context) == Insertion("w, h")


def test_guard_syntax_drops_what_breaks_the_parse_and_keeps_what_parses() -> None:
    from completion.rules import Insertion, guard_syntax

    context = plain("def f(x):\n    ", "\n    return x\n")
    assert guard_syntax(Insertion("if x"), context) == Insertion("")
    assert guard_syntax(Insertion("y = x"), context) == Insertion("y = x")


def test_leading_rules_alone() -> None:
    from completion.rules import drop_leading_blank_lines, drop_scope_escape, fit_first_line_indent

    body = plain("def f():\n    ", "\n    return 1\n")
    assert drop_leading_blank_lines("\n\n    x = 1\n    y = 2", body) == "x = 1\n    y = 2"
    assert drop_scope_escape("\n\ndef g():\n    pass", body) == ""
    assert drop_scope_escape("x = 1", body) == "x = 1"
    assert fit_first_line_indent("    x = 1", body) == "x = 1"
    opener = plain("def f():\n    if x:\n    ", "\n")
    assert fit_first_line_indent("    y = 1", opener) == "    y = 1"


def test_repetition_rules_alone() -> None:
    from completion.filters import drop_repetition, repeats_one_token

    assert repeats_one_token("foo = foo = foo = foo = foo")
    assert not repeats_one_token("depth, max_depth, max_depth, max_depth, max_depth")
    assert not repeats_one_token("self.a = a")
    context = plain("def __init__(self, a, b, c, d):\n    ", "\n")
    init = "self.a = a\n    self.b = b\n    self.c = c\n    self.d = d"
    assert drop_repetition(init, context) == init  # two names vary together: real code

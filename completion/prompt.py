"""FIM templates as data, and model-family detection.

Second stage of the pipeline: a ``Context`` (prefix and suffix) becomes a
``Prompt`` (the exact text the engine runs, plus stop sequences). Templates
are plain data so a new model family is one table entry, not new code.

We always build the FIM string ourselves: llama-cpp-python's ``suffix=`` path
is broken in 0.3.x and vLLM's /v1/completions has no ``suffix`` field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The DeepSeek Coder special tokens use U+FF5C (fullwidth vertical line) and
# U+2581 (lower one eighth block), not ASCII '|' and '_'.
DEEPSEEK_FIM_BEGIN = "<\uff5cfim\u2581begin\uff5c>"
DEEPSEEK_FIM_HOLE = "<\uff5cfim\u2581hole\uff5c>"
DEEPSEEK_FIM_END = "<\uff5cfim\u2581end\uff5c>"
DEEPSEEK_EOS = "<\uff5cend\u2581of\u2581sentence\uff5c>"
DEEPSEEK_BOS = "<\uff5cbegin\u2581of\u2581sentence\uff5c>"
DEEPSEEK_EOT = "<|EOT|>"

_FIELDS = re.compile(r"(\{prefix\}|\{suffix\})")


@dataclass(frozen=True)
class FimTemplate:
    """How one model family spells a fill-in-the-middle prompt."""

    name: str
    fim_format: str
    """A format string with ``{prefix}`` and ``{suffix}`` fields."""
    stop: tuple[str, ...]
    """Text that ends a completion (EOS/EOT and tokens the model must not emit)."""
    probe_tokens: tuple[str, ...] = ()
    """Special tokens whose presence in a vocabulary identifies the family."""
    name_hints: tuple[str, ...] = ()
    """Lower-case substrings of a model name that identify the family."""
    file_header: str | None = None
    """The file-separator token form (``<file_sep>{path}\\n``) of models trained on
    repository-level prompts; None: files are marked by path comments."""
    middle_follows: bool = False
    """Text appended to the rendered prompt reads as the start of the middle
    (prefix-suffix-middle templates that end on the middle marker)."""

    def render(self, prefix: str, suffix: str) -> str:
        # One pass over the format's own fields: code is full of braces, and
        # a prefix may well contain the text "{suffix}" itself.
        fields = {"{prefix}": prefix, "{suffix}": suffix}
        return "".join(fields.get(piece, piece) for piece in _FIELDS.split(self.fim_format))


TEMPLATES: dict[str, FimTemplate] = {
    t.name: t
    for t in (
        FimTemplate(
            name="deepseek",
            fim_format=DEEPSEEK_FIM_BEGIN
            + "{prefix}"
            + DEEPSEEK_FIM_HOLE
            + "{suffix}"
            + DEEPSEEK_FIM_END,
            stop=(
                DEEPSEEK_EOS,
                DEEPSEEK_EOT,
                DEEPSEEK_FIM_BEGIN,
                DEEPSEEK_FIM_HOLE,
                DEEPSEEK_FIM_END,
            ),
            probe_tokens=(DEEPSEEK_FIM_BEGIN, DEEPSEEK_FIM_HOLE, DEEPSEEK_FIM_END),
            name_hints=("deepseek",),
            middle_follows=True,
        ),
        FimTemplate(
            name="starcoder",
            fim_format="<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>",
            stop=("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
            probe_tokens=("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
            name_hints=("starcoder", "santacoder", "refact"),
            file_header="<file_sep>{path}\n",
            middle_follows=True,
        ),
        FimTemplate(
            name="qwen",
            fim_format="<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
            stop=(
                "<|endoftext|>",
                "<|fim_pad|>",
                "<|file_sep|>",
                "<|repo_name|>",
                "<|im_end|>",
                "<|fim_prefix|>",
                "<|fim_suffix|>",
                "<|fim_middle|>",
            ),
            probe_tokens=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
            name_hints=("qwen",),
            file_header="<|file_sep|>{path}\n",
            middle_follows=True,
        ),
        FimTemplate(
            name="codellama",
            fim_format="<PRE> {prefix} <SUF>{suffix} <MID>",
            stop=("<EOT>", "</s>", "<PRE>", "<SUF>", "<MID>"),
            probe_tokens=("<PRE>", "<SUF>", "<MID>", "▁<PRE>", "▁<SUF>", "▁<MID>"),
            name_hints=("codellama", "code-llama", "code llama"),
        ),
        FimTemplate(
            name="codestral",
            fim_format="[SUFFIX]{suffix}[PREFIX]{prefix}",
            stop=("</s>", "[SUFFIX]", "[PREFIX]", "[INST]"),
            probe_tokens=("[SUFFIX]", "[PREFIX]"),
            name_hints=("codestral",),
        ),
        # For models with no FIM training (e.g. SmolLM2): plain continuation.
        FimTemplate(
            name="plain",
            fim_format="{prefix}",
            stop=("<|endoftext|>", "<|im_end|>", "</s>"),
        ),
    )
}

DEFAULT_TEMPLATE = "deepseek"


class UnknownTemplateError(ValueError):
    """The configured template name is not in TEMPLATES."""


def get_template(name: str) -> FimTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        known = ", ".join(sorted(TEMPLATES))
        raise UnknownTemplateError(f"unknown FIM template {name!r}; known: {known}") from None


def detect_family(
    model_name: str,
    metadata: Mapping[str, str],
    special_tokens: frozenset[str],
) -> str | None:
    """Guess the FIM family from the vocabulary first, then names in metadata.

    Vocabulary evidence wins because quantised GGUFs are often renamed, while
    their special tokens never change. Returns None when nothing matches.
    """
    for template in TEMPLATES.values():
        probes = template.probe_tokens
        if probes and sum(token in special_tokens for token in probes) >= 2:
            return template.name
    haystack = " ".join(
        [model_name, metadata.get("general.name", ""), metadata.get("general.basename", "")]
    ).lower()
    for template in TEMPLATES.values():
        if any(hint in haystack for hint in template.name_hints):
            return template.name
    return None


def probe_token_strings() -> frozenset[str]:
    """Every special-token string detection may ask an engine about."""
    tokens: set[str] = {DEEPSEEK_EOS, DEEPSEEK_EOT, DEEPSEEK_BOS}
    for template in TEMPLATES.values():
        tokens.update(template.probe_tokens)
    return frozenset(tokens)


@dataclass(frozen=True)
class Prompt:
    """What the engine runs for one completion."""

    text: str
    stop: tuple[str, ...]
    template: str
    prefix: str
    suffix: str
    middle_start: str = ""
    """The end of ``prefix`` that ``text`` puts after the middle marker instead."""
    files: tuple[tuple[str, str], ...] = ()
    """Other files' snippets as (path, text), for servers that take them apart
    (llama-server's /infill ``input_extra``); ``prefix`` holds them already,
    in its first ``files_chars`` characters."""
    files_chars: int = 0
    secrets_scrubbed: int = 0
    """Credentials replaced by a placeholder in this prompt (completion/privacy.py)."""


def typed_on_line(prefix: str) -> str:
    """The text typed on the cursor's line so far, after its indentation."""
    # A lone CR ends a line too (old Mac files), as in Document.
    line = prefix[max(prefix.rfind("\n"), prefix.rfind("\r")) + 1 :]
    return line.lstrip(" \t")


def build_prompt(
    template: FimTemplate,
    prefix: str,
    suffix: str,
    extra_stop: tuple[str, ...] = (),
    line_in_middle: bool = False,
    middle_start: str | None = None,
) -> Prompt:
    """Render ``template`` around the cursor's prefix and suffix.

    With ``line_in_middle`` (and a template whose middle follows the prompt),
    the text typed on the cursor's line goes after the middle marker, as the
    start of the middle the model continues. Typing along a line then only
    appends to the prompt, so the engine's cached prompt covers everything but
    the new characters; with the line at the end of the prefix, the suffix
    follows the cursor and is evaluated again on every keystroke. Models
    trained on FIM with split points anywhere in a document (DeepSeek Coder
    splits at random characters) read both forms alike.

    ``middle_start``, when given, is the end of ``prefix`` to put after the
    middle marker instead of the line rule's (the typed region, which may
    span lines); it is ignored unless ``prefix`` ends with it.
    """
    stop = tuple(dict.fromkeys(template.stop + extra_stop))
    if not template.middle_follows:
        middle_start = ""
    elif middle_start and prefix.endswith(middle_start):
        pass
    else:
        middle_start = typed_on_line(prefix) if line_in_middle else ""
    head = prefix[: len(prefix) - len(middle_start)]
    return Prompt(
        text=template.render(head, suffix) + middle_start,
        stop=stop,
        template=template.name,
        prefix=prefix,
        suffix=suffix,
        middle_start=middle_start,
    )

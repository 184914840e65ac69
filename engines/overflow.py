"""Prompt overflow: reading a server's "context too long" error and shrinking the prompt.

Used by the remote engine (engines/openai_compat.py) when a server rejects a
prompt as too long *before* generating anything: the numbers in the error
(or the server's tokenizer) say how much to keep, and the request is rebuilt
with the prefix's head and the suffix's tail cut, then sent once more.
"""

from __future__ import annotations

import re
from dataclasses import replace

from engines.base import GenerationRequest

_TOO_LONG = re.compile(
    r"context length|context window|context size|too long|max_model_len|"
    r"input is too large|exceeds? the (?:available|maximum)",
    re.IGNORECASE,
)


def says_too_long(message: str) -> bool:
    """Whether a server's error message says the prompt does not fit."""
    return _TOO_LONG.search(message) is not None


def overflow_numbers(message: str) -> tuple[int | None, int | None]:
    """(context window, prompt tokens) as a context-too-long message states them.

    vLLM: "maximum context length is 512 tokens ... at least 513 input tokens";
    llama-cpp-python: "... is 512 tokens, however you requested 1421 tokens
    (1401 in your prompt; ...)". Either may be None.
    """
    window = re.search(r"(?:context length|context size|max_model_len)\D{0,20}(\d+)", message)
    asked = re.search(r"(\d+) (?:input|prompt) tokens", message)
    asked = asked or re.search(r"(\d+) in your prompt", message)
    asked = asked or re.search(r"(?:request|prompt|input) has (\d+)", message)
    return (
        int(window.group(1)) if window else None,
        int(asked.group(1)) if asked else None,
    )


def keep_ratio(window: int | None, prompt_tokens: int | None, max_tokens: int) -> float:
    """Fraction of prefix/suffix to keep so the prompt and answer fit ``window``."""
    if window and prompt_tokens:
        room = window - max_tokens - 8
        if room > 0:
            return max(0.05, min(0.9, room / prompt_tokens * 0.9))
    return 0.5


def shrink_request(request: GenerationRequest, keep: float) -> GenerationRequest | None:
    """The same request with the prefix's head and the suffix's tail cut.

    ``keep`` is the fraction of prefix and suffix characters to keep; cuts
    fall on line boundaries. The prompt text is rebuilt by replacing the old
    prefix and suffix inside it, so any FIM template works; the part of the
    prefix carried after the middle marker (``middle_start``) stays whole.
    None when the request carries no prefix/suffix to cut.
    """
    prefix, suffix = request.prefix, request.suffix
    if prefix is None or suffix is None or not (prefix or suffix):
        return None
    typed = request.middle_start if prefix.endswith(request.middle_start) else ""
    head = prefix[: len(prefix) - len(typed)]
    new_head = head[len(head) - int(len(head) * keep) :]
    if new_head != head and "\n" in new_head:
        new_head = new_head[new_head.index("\n") + 1 :]
    new_suffix = suffix[: int(len(suffix) * keep)]
    if new_suffix != suffix and "\n" in new_suffix:
        new_suffix = new_suffix[: new_suffix.rindex("\n") + 1]
    prompt = request.prompt
    start = prompt.find(head) if head else -1
    after = start + len(head) if start >= 0 else 0
    end = prompt.find(suffix, after) if suffix else -1
    if (head and start < 0) or (suffix and end < 0):
        return None
    pieces = []
    cursor = 0
    if start >= 0:
        pieces += [prompt[:start], new_head]
        cursor = after
    if end >= 0:
        pieces += [prompt[cursor:end], new_suffix]
        cursor = end + len(suffix)
    pieces.append(prompt[cursor:])
    return replace(request, prompt="".join(pieces), prefix=new_head + typed, suffix=new_suffix)

"""Model output plus a ``Context`` become the text to insert, or nothing.

Last stage of the pipeline, in two parts:
- ``StreamCutter`` watches the stream and says when the answer is known (a
  stop sequence, or the first line in single-line mode), so the engine can
  be stopped early instead of running to max_tokens.
- ``postprocess`` runs a list of small named filters over the final text.
  Each filter is a plain function ``(text, context) -> text``; an empty
  string means "show nothing".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from completion.context import Context

Filter = Callable[[str, Context], str]


@dataclass
class StreamCutter:
    """Accumulates streamed pieces and decides when generation can stop."""

    stop: Sequence[str]
    multiline: bool
    text: str = ""
    done: bool = False

    def feed(self, piece: str) -> bool:
        """Add ``piece``; return True once no more output is needed."""
        if self.done:
            return True
        self.text += piece
        # Only the tail can newly contain a stop sequence.
        window = max((len(s) for s in self.stop), default=0) + len(piece)
        start = max(0, len(self.text) - window)
        cut = min(
            (i for s in self.stop if s and (i := self.text.find(s, start)) != -1),
            default=-1,
        )
        if cut != -1:
            self.text = self.text[:cut]
            self.done = True
        elif not self.multiline and first_line_complete(self.text):
            self.done = True
        return self.done


def first_line_complete(text: str) -> bool:
    """True once ``text`` holds a newline after some non-blank content."""
    newline = text.find("\n", len(text) - len(text.lstrip()))
    return newline != -1 and bool(text[:newline].strip())


def strip_special_tokens(text: str, context: Context, stop: Sequence[str] = ()) -> str:
    """Cut at the first stop/FIM token, in case the engine did not stop there."""
    cut = min((i for s in stop if s and (i := text.find(s)) != -1), default=-1)
    return text if cut == -1 else text[:cut]


def keep_first_line(text: str, context: Context) -> str:
    """Single-line mode: everything up to the first line break with content."""
    if context.multiline:
        return text
    if not text.strip():
        return ""
    lead = len(text) - len(text.lstrip("\n"))
    if lead and context.line_prefix.strip():
        # The model started a new line mid-line: that is not a single-line answer.
        return ""
    body = text[lead:]
    return body.split("\n", 1)[0].rstrip("\r")


def trim_trailing_whitespace(text: str, context: Context) -> str:
    """No trailing blank lines or spaces: the editor shows them as noise."""
    return text.rstrip()


def drop_empty(text: str, context: Context) -> str:
    """Nothing to show if the completion is blank or only repeats the suffix."""
    if not text.strip():
        return ""
    if context.line_suffix.strip() and text.strip() == context.line_suffix.strip():
        return ""
    return text


DEFAULT_FILTERS: tuple[Filter, ...] = (
    keep_first_line,
    trim_trailing_whitespace,
    drop_empty,
)


def postprocess(
    text: str,
    context: Context,
    stop: Sequence[str] = (),
    filters: Sequence[Filter] = DEFAULT_FILTERS,
) -> str:
    """Run ``filters`` in order; stop early once one returns nothing."""
    text = strip_special_tokens(text, context, stop)
    for step in filters:
        text = step(text, context)
        if not text:
            return ""
    return text

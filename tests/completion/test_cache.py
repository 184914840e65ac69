"""The completion cache: exact hits, typing through, accepting a line, bounds."""

from __future__ import annotations

from completion.cache import CompletionCache
from completion.document import Document

BEFORE = "def area(radius):\n    return "
AFTER = "\n\nprint(area(2))\n"
SUGGESTION = "math.pi * radius ** 2"


def doc(middle: str = "", after: str = AFTER) -> Document:
    return Document(uri="file:///a.py", text=BEFORE + middle + after)


def primed() -> CompletionCache:
    cache = CompletionCache()
    cache.store(doc(), len(BEFORE), SUGGESTION, multiline=False, fingerprint="m")
    return cache


def test_exact_hit() -> None:
    entry = primed().lookup(doc(), len(BEFORE), "m")
    assert entry is not None and entry.text == SUGGESTION


def test_typing_through_serves_the_rest() -> None:
    cache = primed()
    typed = "math.p"
    entry = cache.lookup(doc(typed), len(BEFORE) + len(typed), "m")
    assert entry is not None and entry.text == "i * radius ** 2"


def test_backspace_returns_to_a_served_state() -> None:
    cache = primed()
    cache.lookup(doc("math.p"), len(BEFORE) + 6, "m")
    entry = cache.lookup(doc("math."), len(BEFORE) + 5, "m")
    assert entry is not None and entry.text == "pi * radius ** 2"


def test_accepting_a_line_serves_the_next_line() -> None:
    cache = CompletionCache()
    body = "total = 0\n    for x in xs:\n        total += x\n    return total"
    start = Document(uri="u", text="def f(xs):\n    \n")
    cache.store(start, 15, body, multiline=True, fingerprint="m")
    accepted = Document(uri="u", text="def f(xs):\n    total = 0\n    \n")
    entry = cache.lookup(accepted, 15 + len("total = 0\n    "), "m")
    assert entry is not None and entry.text == "for x in xs:\n        total += x\n    return total"


def test_diverging_text_misses() -> None:
    assert primed().lookup(doc("math.e"), len(BEFORE) + 6, "m") is None


def test_changed_suffix_misses() -> None:
    assert primed().lookup(doc(after="\nother()\n"), len(BEFORE), "m") is None


def test_other_model_misses() -> None:
    assert primed().lookup(doc(), len(BEFORE), "other-model") is None


def test_fully_typed_suggestion_is_not_a_hit() -> None:
    cache = primed()
    assert cache.lookup(doc(SUGGESTION), len(BEFORE) + len(SUGGESTION), "m") is None


def test_an_empty_answer_is_a_hit_only_where_it_was_made() -> None:
    cache = CompletionCache()
    cache.store(doc(), len(BEFORE), "", multiline=False, fingerprint="m")
    entry = cache.lookup(doc(), len(BEFORE), "m")
    assert entry is not None and entry.text == ""
    assert cache.lookup(doc("m"), len(BEFORE) + 1, "m") is None


def test_bounded_by_entries_and_characters() -> None:
    cache = CompletionCache(max_entries=3, max_chars=10**9)
    for n in range(10):
        cache.store(Document(uri=f"u{n}", text="x"), 1, "y" * 10, False, "m")
    assert len(cache) == 3
    small = CompletionCache(max_entries=100, max_chars=5000)
    for n in range(50):
        small.store(Document(uri=f"u{n}", text="x" * 1000), 500, "y", False, "m")
    assert small.chars <= 5000 and len(small) < 50


def test_the_closers_an_answer_replaces_are_served_with_it() -> None:
    # "w, h):" re-types the ")" after the cursor; typing through keeps covering it.
    cache = CompletionCache()
    before, after = "def area(", ")\n"
    document = Document(uri="file:///r.py", text=before + after)
    cache.store(document, len(before), "w, h):", False, "m", replaces=1)
    typed = Document(uri="file:///r.py", text=before + "w" + after)
    entry = cache.lookup(typed, len(before) + 1, "m")
    assert entry is not None and (entry.text, entry.replaces) == (", h):", 1)

"""Windows of other open documents by identifier similarity (completion/crossfile/open_files.py)."""

from __future__ import annotations

from completion.crossfile.open_files import OpenDocument, WindowCache, rank_windows
from completion.crossfile.snippet import identifiers, jaccard


def doc(uri: str, text: str, language_id: str = "python", edited: float = 0.0) -> OpenDocument:
    return OpenDocument(uri, uri.rsplit("/", 1)[-1], language_id, 1, text, edited)


FILLER = "".join(f"unrelated_{n} = other_{n}\n" for n in range(40))
SHAPES = "def circle_area(radius):\n    return PI * radius * radius\n"


def test_jaccard_of_identifier_sets() -> None:
    assert identifiers("def f(self, radius): return radius") == {"radius"}
    assert jaccard(frozenset({"a1", "b1"}), frozenset({"b1", "c1"})) == 1 / 3
    assert jaccard(frozenset(), frozenset({"a1"})) == 0.0


def test_the_most_similar_window_wins() -> None:
    shapes = doc("file:///shapes.py", FILLER + SHAPES + FILLER)
    other = doc("file:///other.py", FILLER)
    chosen = rank_windows(
        "area = circle_area(radius) * PI", "python", [other, shapes], WindowCache(), 10, 1
    )
    assert [(s.path, s.source) for s in chosen] == [("shapes.py", "openFiles")]
    assert SHAPES in chosen[0].text


def test_same_language_first_then_recently_edited_on_ties() -> None:
    text = SHAPES + FILLER
    older = doc("file:///a.py", text, edited=1.0)
    newer = doc("file:///b.py", text, edited=2.0)
    foreign = doc("file:///c.ts", text, "typescript", edited=3.0)
    chosen = rank_windows(
        "circle_area(radius)", "python", [foreign, older, newer], WindowCache(), 10, 3
    )
    assert [s.path for s in chosen] == ["b.py", "a.py", "c.ts"]


def test_dissimilar_windows_are_left_out() -> None:
    chosen = rank_windows(
        "circle_area(radius)", "python", [doc("file:///x.py", FILLER)], WindowCache()
    )
    assert chosen == []


def test_windows_are_scanned_once_per_version() -> None:
    cache = WindowCache()
    shapes = doc("file:///shapes.py", SHAPES)
    first, _ = cache.windows(shapes, 10)
    again, _ = cache.windows(shapes, 10)
    assert again is first
    changed = OpenDocument(shapes.uri, shapes.path, "python", 2, SHAPES + "x_y = 1\n", 0.0)
    assert cache.windows(changed, 10)[0] is not first

"""The provider: budget split, a block stable across keystrokes, privacy, the index off the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from pathlib import Path

from completion.crossfile.index import WorkspaceIndex
from completion.crossfile.options import CrossFileOptions, ImportsOptions
from completion.crossfile.provider import CrossFileProvider, allocate
from completion.crossfile.snippet import Snippet
from completion.pipeline import TokenEstimator
from tests.completion.crossfile.workspace import document, write

GEOMETRY = '''"""Shapes."""
PI = 3.14159


def circle_area(radius: float) -> float:
    """The area of a circle."""
    return PI * radius * radius


def square_area(side: float) -> float:
    return side * side
'''
APP = """from pkg.geometry import circle_area

def report(r):
    total = 0
    total += 1
    return circle_area(r)
"""
ONLY_IMPORTS = CrossFileOptions(sources=("imports",))


def workspace(tmp_path: Path) -> CrossFileProvider:
    write(tmp_path, {"pkg/__init__.py": "", "pkg/geometry.py": GEOMETRY, "pkg/app.py": APP})
    return CrossFileProvider(str(tmp_path))


def test_an_imported_definition_from_disk(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    app = document(tmp_path, "pkg/app.py", "python")
    snippets = provider.select(app, len(APP), ONLY_IMPORTS, 400, TokenEstimator())
    assert (snippets[0].path, snippets[0].start_line, snippets[0].source) == (
        "pkg/geometry.py",
        4,
        "imports",
    )
    assert snippets[0].text == (  # short: in whole
        "def circle_area(radius: float) -> float:\n"
        '    """The area of a circle."""\n'
        "    return PI * radius * radius\n"
    )
    assert all(s.tokens > 0 for s in snippets)


def test_the_block_holds_still_while_typing(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    app = document(tmp_path, "pkg/app.py", "python")
    provider.opened(app)
    provider.documents = {app.uri: app}
    first = provider.select(app, len(APP), CrossFileOptions(), 400, TokenEstimator())
    made = provider.selections_made
    for character in "x = circle":
        app.replace(len(app.text), len(app.text), character)
        again = provider.select(app, len(app.text), CrossFileOptions(), 400, TokenEstimator())
        assert again == first
    assert provider.selections_made == made
    # A new import is a new source: the block is chosen again.
    app.replace(0, 0, "from pkg.geometry import square_area\n")
    provider.select(app, len(app.text), CrossFileOptions(), 400, TokenEstimator())
    assert provider.selections_made == made + 1


def test_excluded_and_oversized_files_are_never_read(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    asked: list[str] = []

    def is_excluded(path: str) -> bool:
        asked.append(path)
        return path.endswith("geometry.py")

    provider.set_exclusion(is_excluded)
    app = document(tmp_path, "pkg/app.py", "python")
    assert provider.select(app, len(APP), ONLY_IMPORTS, 400, TokenEstimator()) == ()
    assert str(tmp_path / "pkg/geometry.py") in asked

    small = workspace(tmp_path / "second")
    small.max_document_bytes = len(GEOMETRY) - 1
    app = document(tmp_path / "second", "pkg/app.py", "python")
    assert small.select(app, len(APP), ONLY_IMPORTS, 400, TokenEstimator()) == ()


def test_open_documents_over_the_limit_are_not_context(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    app = document(tmp_path, "pkg/app.py", "python")
    big = document(tmp_path, "pkg/big.py", "python", "circle_area radius\n" * 50)
    provider.documents = {app.uri: app, big.uri: big}
    options = CrossFileOptions(sources=("openFiles",))
    assert provider.select(app, len(APP), options, 400, TokenEstimator())
    provider.max_document_bytes = 100
    assert provider.select(app, len(APP), options, 400, TokenEstimator()) == ()


def test_each_source_fills_its_share_then_lends_the_rest() -> None:
    def snippet(path: str, line: int, source: str) -> Snippet:
        return Snippet(path, line, line, "x" * 57 + "\n", source)  # 20 tokens with its path

    count = TokenEstimator()
    candidates = {
        "imports": [snippet("a.py", n, "imports") for n in range(10)],
        "openFiles": [snippet("b.py", 0, "openFiles")],
        "recent": [snippet("a.py", 3, "recent"), snippet("c.py", 0, "recent")],
    }
    chosen = allocate(candidates, CrossFileOptions(), 130, count)
    by_source = [s.source for s in chosen]
    assert by_source.count("openFiles") == 1
    assert ("a.py", 3) not in [(s.path, s.start_line) for s in chosen if s.source == "recent"]
    assert sum(s.tokens for s in chosen) <= 130
    assert by_source.count("imports") >= 3  # its share and what the others left


async def test_the_index_parses_in_a_worker_process(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "def f():\n    pass\n"})
    index = WorkspaceIndex()
    try:
        path = str(tmp_path / "a.py")
        assert index.get(path) is None  # queued, never parsed on the loop
        await index.wait([path], 60.0)
        summary = index.get(path)
        assert summary is not None and summary.by_name["f"].line == 0
        assert isinstance(index._executor, concurrent.futures.ProcessPoolExecutor)
    finally:
        index.close()


async def test_the_thread_fallback_parses_on_its_own_thread(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "def f():\n    pass\n"})
    index = WorkspaceIndex(processes=False)
    threads: list[str] = []
    import completion.crossfile.index as module

    real = module._read_and_parse

    def spy(*args: object) -> object:
        threads.append(threading.current_thread().name)
        return real(*args)  # type: ignore[arg-type]

    module._read_and_parse = spy  # type: ignore[assignment]
    try:
        path = str(tmp_path / "a.py")
        assert index.get(path) is None  # queued, never parsed on the loop
        await index.wait([path], 10.0)
        summary = index.get(path)
        assert summary is not None and summary.by_name["f"].line == 0
    finally:
        module._read_and_parse = real
        index.close()
    assert threads and all(name.startswith("dscoder-index") for name in threads)


async def test_prepare_waits_at_most_wait_ms(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    app = document(tmp_path, "pkg/app.py", "python")
    options = CrossFileOptions(imports=ImportsOptions(wait_ms=10_000))
    await provider.prepare(app, options)
    assert provider.select(app, len(APP), options, 400, TokenEstimator())
    provider.index.close()


def test_edits_and_saves_reach_the_ring_and_the_index(tmp_path: Path) -> None:
    provider = workspace(tmp_path)
    geometry = document(tmp_path, "pkg/geometry.py", "python")
    provider.opened(geometry)
    geometry.replace(0, 0, "# edited\n")
    assert [c.path for c in provider.recent.candidates("file:///elsewhere.py")] == [
        "pkg/geometry.py"
    ]
    path = str(tmp_path / "pkg/geometry.py")
    provider.index.get(path)
    generation = provider.index.generation(path)
    (tmp_path / "pkg/geometry.py").write_text(GEOMETRY + "X = 1\n")
    provider.saved(geometry.uri)
    provider.index.get(path)
    assert provider.index.generation(path) > generation
    summary = provider.index.get(path)
    assert summary is not None and "X" in summary.by_name
    asyncio.run(asyncio.sleep(0))

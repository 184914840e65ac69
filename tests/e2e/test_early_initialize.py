"""``initialize`` answered from the cache before pygls loads, over real stdio.

The first start computes the answer (pygls) and caches it; the second start
with the same client capabilities answers from the cache, and must then
behave exactly as the first: same answer, positions in the same encoding,
documents and completions served.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lsprotocol import types

from tests.conftest import fill_case
from tests.e2e.conftest import StartServer, encoding_of, open_document, position_of
from tests.e2e.test_server import inline

pytestmark = pytest.mark.slow


async def test_a_cached_answer_is_the_same_and_the_server_serves_after_it(
    start_server: StartServer, fill_model: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "DSCODER_CACHE": str(tmp_path / "dscoder-lsp")}
    cold = await start_server("--model", str(fill_model), env=env)
    cached = list((tmp_path / "dscoder-lsp" / "initialize").glob("*.json"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    warm = await start_server("--model", str(fill_model), env=env)
    # The warm start read the cache (and stored pygls's own answer again).
    assert cached[0].stat().st_mtime_ns >= stamp
    assert warm.initialize_result == cold.initialize_result  # type: ignore[attr-defined]

    case = fill_case("mid-line")
    text = case["prefix"] + case["suffix"]
    open_document(warm, "file:///work/early.py", text)
    position = position_of(text, len(case["prefix"]), encoding_of(warm))
    result = await inline(warm, "file:///work/early.py", position)
    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [case["middle"].rstrip()]

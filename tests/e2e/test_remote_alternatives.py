"""Alternatives from remote engines over stdio: one call with ``n``, or one at a time.

vLLM honours ``n``: an explicit trigger gets its distinct items from the
usual answer plus one sampled call. llama_cpp.server ignores ``n`` (it
answers choice 0 alone): the server finds that out on the first call and
samples one at a time from then on.
"""

from __future__ import annotations

from typing import Any

import pytest
from pytest_lsp import LanguageClient

from tests.e2e.conftest import StartServer, encoding_of, open_document, position_of
from tests.e2e.test_acceptance import ask, stats
from tests.support.fixtures import llama_cpp_python, vllm  # noqa: F401
from tests.support.servers import ServerProcess

pytestmark = pytest.mark.slow

HOT = ["--set", "alternativesTemperature=1.0", "--set", "stats.persist=false"]

# An open hole: where the tiny model has learned one answer (its held-out
# cases) every sample is that answer; here it knows several.
PREFIX = "def scale(values, factor):\n    "


async def open_hole(client: LanguageClient, name: str) -> tuple[str, Any]:
    text = PREFIX + "\n"
    uri = f"file:///work/{name}.py"
    open_document(client, uri, text)
    return uri, position_of(text, len(PREFIX), encoding_of(client))


async def test_vllm_alternatives_come_from_one_request_with_n(
    start_server: StartServer,
    vllm: ServerProcess,  # noqa: F811
) -> None:
    client = await start_server("--engine", "vllm", "--endpoint", vllm.url + "/v1", *HOT)
    uri, position = await open_hole(client, "vllm_alternatives")
    automatic = await ask(client, uri, position)
    before = (await stats(client))["engineCalls"]

    invoked = await ask(client, uri, position, invoked=True)

    texts = [str(item.insert_text) for item in invoked]
    assert len(automatic) == 1 and texts[0] == automatic[0].insert_text  # from the cache
    assert 2 <= len(texts) <= 3
    assert len({text.rstrip() for text in texts}) == len(texts)
    assert (await stats(client))["engineCalls"] - before == 1  # the samples: one call, n=3


async def test_llama_cpp_server_ignores_n_and_alternatives_are_sampled_one_at_a_time(
    start_server: StartServer,
    llama_cpp_python: ServerProcess,  # noqa: F811
) -> None:
    client = await start_server(
        "--engine", "openai", "--endpoint", llama_cpp_python.url + "/v1", *HOT
    )
    uri, position = await open_hole(client, "llama_cpp_alternatives")
    automatic = await ask(client, uri, position)
    before = (await stats(client))["engineCalls"]

    invoked = await ask(client, uri, position, invoked=True)

    texts = [str(item.insert_text) for item in invoked]
    assert texts[0] == automatic[0].insert_text
    assert len({text.rstrip() for text in texts}) == len(texts)
    assert 2 <= len(texts) <= 3
    # The call with n brought one choice; sampling went on one seed at a time
    # (the first item is the automatic answer, from the cache).
    calls = (await stats(client))["engineCalls"] - before
    assert calls >= 2
    assert calls >= len(texts) - 1

"""Exclusion, scrubbing and redaction through the real server and a remote engine path.

The remote engine is a small OpenAI-compatible server written here that
records every request it gets (body and headers) and streams a chosen
answer: the recorded prompts are what left the machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import StartServer, encoding_of, open_document, plain, position_of
from tests.e2e.test_server import inline

pytestmark = pytest.mark.slow

MODEL = "recorder"


class Recorder(ThreadingHTTPServer):
    """An OpenAI-compatible /v1 that records requests; ``reply`` is what it streams."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, dict[str, str], Any]] = []
        self.reply = " + 1"
        self.reject_with: tuple[int, str] | None = None
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def completions(self) -> list[Any]:
        with self.lock:
            return [body for method, path, _, body in self.requests if path == "/v1/completions"]

    def everything_sent(self) -> str:
        with self.lock:
            return json.dumps(self.requests)


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, body: Any) -> None:
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers), body))

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._record(None)
        if self.server.reject_with is not None:
            status, message = self.server.reject_with
            self._json(status, {"error": {"message": message}})
        elif self.path == "/v1/models":
            self._json(200, {"data": [{"id": MODEL, "max_model_len": 4096}]})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"null")
        self._record(body)
        if self.path != "/v1/completions":
            self._json(404, {"error": {"message": "not found"}})
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece, finish in ((self.server.reply, None), ("", "stop")):
            chunk = {"choices": [{"index": 0, "text": piece, "finish_reason": finish}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, name="recorder", daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def remote(recorder: Recorder) -> list[str]:
    return ["--engine", "openai", "--endpoint", recorder.url + "/v1", "--model-name", MODEL]


SECRETS = {
    "aws_access": "AKIAIOSFODNN7EXAMPLF",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "github": "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2",
    "key_body": "MIIEowIBAAKCAQEA7bq2Secretbody",
    "password": "hunter2-correct-horse",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n",
}

LEAKY_PREFIX = f"""import boto3

AWS_ACCESS_KEY_ID = "{SECRETS["aws_access"]}"
aws_secret_access_key = "{SECRETS["aws_secret"]}"
GITHUB = "{SECRETS["github"]}"
DEPLOY_KEY = '''-----BEGIN RSA PRIVATE KEY-----
{SECRETS["key_body"]}
-----END RSA PRIVATE KEY-----'''
session = "{SECRETS["jwt"]}"


def total(a):
    return a"""
LEAKY_SUFFIX = f"""


db_password = "{SECRETS["password"]}"
"""


async def stats(client: LanguageClient) -> dict[str, Any]:
    return dict(plain(await client.protocol.send_request_async("dscoder/stats", {})))


async def test_secrets_never_reach_a_remote_engine(
    start_server: StartServer, recorder: Recorder
) -> None:
    client = await start_server(*remote(recorder))
    uri = "file:///work/deploy.py"
    open_document(client, uri, LEAKY_PREFIX + LEAKY_SUFFIX)
    position = position_of(LEAKY_PREFIX + LEAKY_SUFFIX, len(LEAKY_PREFIX), encoding_of(client))

    result = await inline(client, uri, position)

    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == [" + 1"]
    [body] = recorder.completions()
    assert "def total(a):" in body["prompt"]  # the code went, the secrets did not
    sent = recorder.everything_sent()
    for name, secret in SECRETS.items():
        assert secret not in sent, name
    assert (await stats(client))["secretsScrubbed"] == len(SECRETS)


async def test_a_completion_that_would_reinsert_a_placeholder_is_dropped(
    start_server: StartServer, recorder: Recorder
) -> None:
    recorder.reply = ' "<redacted>"'
    client = await start_server(*remote(recorder))
    text = 'api_key = "sk-abcdefghijklmnopqrstuvwx0123"\nsame_key ='
    uri = "file:///work/keys.py"
    open_document(client, uri, text)

    result = await inline(client, uri, position_of(text, len(text), encoding_of(client)))

    assert isinstance(result, types.InlineCompletionList)
    assert list(result.items) == []
    assert len(recorder.completions()) == 1


async def test_scrubbing_can_be_turned_off(start_server: StartServer, recorder: Recorder) -> None:
    client = await start_server(*remote(recorder), options={"scrubSecrets": {"remote": False}})
    text = f'token = "{SECRETS["github"]}"\nx ='
    uri = "file:///work/plain.py"
    open_document(client, uri, text)
    await inline(client, uri, position_of(text, len(text), encoding_of(client)))
    assert SECRETS["github"] in recorder.completions()[0]["prompt"]


@pytest.mark.parametrize(
    "uri", ["file:///work/.env", "file:///work/certs/server.pem", "file:///home/me/.ssh/id_rsa"]
)
async def test_an_excluded_file_causes_no_engine_call(
    start_server: StartServer, recorder: Recorder, uri: str
) -> None:
    client = await start_server(*remote(recorder))
    statuses: list[Any] = []

    @client.feature("dscoder/status")
    def on_status(params: Any) -> None:
        statuses.append(params)

    text = f"AWS_SECRET={SECRETS['aws_secret']}\nDB_HOST="
    open_document(client, uri, text)
    position = position_of(text, len(text), encoding_of(client))

    result = await inline(client, uri, position)
    answer = plain(
        await client.protocol.send_request_async(
            "dscoder/complete",
            {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}},
        )
    )

    assert isinstance(result, types.InlineCompletionList) and list(result.items) == []
    assert answer["text"] == "" and answer["skipped"].startswith("excluded: matches ")
    now = await stats(client)
    assert now["engineCalls"] == 0 and now["excluded"] == 2
    assert recorder.completions() == []
    assert SECRETS["aws_secret"] not in recorder.everything_sent()
    async with asyncio.timeout(30):
        while not any(plain(s).get("excluded") for s in statuses):
            await asyncio.sleep(0.01)
    [status] = [plain(s) for s in statuses if plain(s).get("uri") == uri]
    assert status["reason"].startswith("excluded: ")


async def test_exclusion_follows_settings_and_the_ignore_file(
    start_server: StartServer, recorder: Recorder, tmp_path: Any
) -> None:
    (tmp_path / ".dscoderignore").write_text("generated/\n!.env.example\n")
    client = await start_server(
        *remote(recorder),
        "--set",
        'exclude.patterns=["*.secret.py"]',
    )
    # The workspace is the folder the client announced; ask about files there.
    root = plain(await client.protocol.send_request_async("dscoder/stats", {}))
    assert root["engine"] == "openai"
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="w")], removed=[]
            )
        )
    )
    text = "def f():\n    return 1\n"
    cases = {
        "generated/out.py": True,
        "db.secret.py": True,
        ".env": True,
        ".env.example": False,
        "src/app.py": False,
    }
    for name, excluded in cases.items():
        uri = (tmp_path / name).as_uri()
        answer = plain(
            await client.protocol.send_request_async(
                "dscoder/complete",
                {
                    "textDocument": {"uri": uri},
                    "text": text,
                    "position": {"line": 1, "character": 4},
                },
            )
        )
        assert str(answer["skipped"] or "").startswith("excluded") is excluded, name
    assert len(recorder.completions()) == 2


async def test_a_key_echoed_in_an_error_body_is_masked(
    start_server: StartServer, recorder: Recorder
) -> None:
    key = "my-own-key-8c1f5e2d"
    recorder.reject_with = (401, f"Incorrect API key provided: {key}")
    endpoint = recorder.url.replace("http://", "http://deploy:pa55word@") + "/v1"
    client = await start_server(
        "--engine",
        "openai",
        "--endpoint",
        endpoint,
        "--model-name",
        MODEL,
        env={**os.environ, "OPENAI_API_KEY": key, "DSCODER_API_KEY": key},
    )
    async with asyncio.timeout(30):
        while (now := await stats(client))["modelState"] != "failed":
            await asyncio.sleep(0.01)

    # Nothing shown to a person repeats the key the server echoed, nor the URL's password.
    shown = json.dumps(
        [m.message for m in client.messages]
        + [m.message for m in client.log_messages]
        + [now["modelMessage"], now["lastError"]]
    )
    assert "rejected the API key" in shown
    assert key not in shown
    assert "pa55word" not in shown

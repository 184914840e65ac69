"""The local engine's worker process and its wire protocol.

llama.cpp runs in a child process (``python -m engines.llama_worker``), so a
native fault (SIGSEGV in ggml, an abort, the OOM killer) kills the child, not
the language server. This module holds both ends:

- the child's main loop, the only code that imports ``llama_cpp``;
- ``WorkerClient``, the server's side of the pipes: spawn, requests, replies,
  and noticing the child's death.

Messages are JSON objects, one per line. The child's stdin carries requests
(``load``, ``generate``, ``count``) and ``cancel``; it is the control channel
the decode loop reads, without waiting, before every token and between
prompt chunks, so a cancel stops the model within one token and a count is
answered between two tokens. Greedy requests may decode with prompt lookup
(``PromptLookup``): drafts copied from the context, verified in one batch.
Replies go out on a private duplicate of the
child's fd 1 (fd 1 itself points at stderr, so nothing llama.cpp prints can
corrupt the stream): ``{"id", "p", "n"}`` per streamed piece, then one
``{"id", "done"}`` or ``{"id", "error", "kind"}``.

The child dies with the server: PR_SET_PDEATHSIG on Linux (the kernel sends
SIGKILL when the server dies, even by SIGKILL), and it exits when it finds
its stdin closed (it looks whenever it is idle, and between tokens).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import faulthandler
import json
import logging
import os
import select
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engines.gguf_metadata import GGUFHeaderError, read_metadata, trained_context_length

log = logging.getLogger(__name__)

PROMPT_EVAL_CHUNK = 64
"""Prompt tokens evaluated between two looks at the cancel flag."""
_PR_SET_PDEATHSIG = 1
FAULT_ENV = "DSCODER_WORKER_FAULT"
"""``load``: the worker faults natively (a NULL read) while loading. For tests
of what the server does with a crash during load, once every setting that
crashes llama.cpp is refused by validation."""
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_STREAM_LIMIT = 2**26


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line (JSON escapes newlines inside strings)."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def flash_attention_kwargs(setting: str, architecture: str | None) -> dict[str, Any]:
    """``Llama(...)`` keyword for ``engine.flashAttention``.

    ``auto`` keeps llama.cpp's default, except for ``deepseek2`` (DeepSeek
    Coder V2), whose MLA attention needs it off on CPU builds.
    """
    if setting == "on":
        return {"flash_attn": True}
    if setting == "off" or architecture == "deepseek2":
        return {"flash_attn": False}
    return {}


def describe_exit(returncode: int) -> str:
    """'killed by signal SIGSEGV' or 'exited with code 3', for messages."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by signal {name}"
    return f"exited with code {returncode}"


# ----- the server's side ----------------------------------------------------------


@dataclass(frozen=True)
class WorkerExit:
    """Put on every pending reply queue when the worker dies."""

    returncode: int

    @property
    def reason(self) -> str:
        return describe_exit(self.returncode)


class WorkerExitedError(Exception):
    """The worker died before it answered."""

    def __init__(self, exit: WorkerExit):
        super().__init__(exit.reason)
        self.exit = exit


Reply = dict[str, Any] | WorkerExit
ExitListener = Callable[["WorkerClient", WorkerExit], None]


class WorkerClient:
    """One worker process and the replies it owes (see module docstring).

    The process is started with a plain ``subprocess.Popen`` (a vfork, no
    await) and its pipes are then attached to the event loop. asyncio's own
    subprocess spawn, cancelled at the wrong moment (a server told to exit
    while it loads), waits forever for a child it never watched.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        stdin: asyncio.WriteTransport,
        stdout: asyncio.StreamReader,
        on_exit: ExitListener | None,
    ):
        self.process = process
        self.on_exit = on_exit
        self.exit: WorkerExit | None = None
        self._stdin = stdin
        self._stdout = stdout
        self._pending: dict[int, asyncio.Queue[Reply]] = {}
        self._next_id = 0
        self._exited = asyncio.Event()
        self._reader = asyncio.create_task(self._read_replies(), name="llama-worker-reader")

    @classmethod
    async def spawn(cls, on_exit: ExitListener | None = None) -> WorkerClient:
        env = dict(os.environ)
        if _PACKAGE_ROOT.name not in ("site-packages", "dist-packages"):
            # Run from a checkout: the child imports this package from the same place.
            env["PYTHONPATH"] = os.pathsep.join(
                part for part in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if part
            )
        process = subprocess.Popen(  # noqa: ASYNC220 (a vfork: no cancellation window)
            [sys.executable, "-m", "engines.llama_worker", str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert process.stdin is not None and process.stdout is not None
        loop = asyncio.get_running_loop()
        try:
            stdin, _ = await loop.connect_write_pipe(asyncio.BaseProtocol, process.stdin)
            stdout = asyncio.StreamReader(limit=_STREAM_LIMIT)
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(stdout), process.stdout
            )
        except BaseException:
            process.kill()
            process.wait()  # immediate after SIGKILL
            raise
        return cls(process, stdin, stdout, on_exit)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.exit is None

    def open(self, op: str, **fields: Any) -> tuple[int, asyncio.Queue[Reply]]:
        """Send a request; its replies arrive on the returned queue."""
        self._next_id += 1
        request_id = self._next_id
        replies: asyncio.Queue[Reply] = asyncio.Queue()
        if self.exit is not None:
            replies.put_nowait(self.exit)
            return request_id, replies
        self._pending[request_id] = replies
        self._send({"op": op, "id": request_id, **fields})
        return request_id, replies

    async def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """A request with one reply; raises WorkerExitedError if the worker dies first."""
        request_id, replies = self.open(op, **fields)
        try:
            reply = await replies.get()
        finally:
            self._pending.pop(request_id, None)
        if isinstance(reply, WorkerExit):
            raise WorkerExitedError(reply)
        return reply

    def cancel(self, request_id: int) -> None:
        if self.exit is None and request_id in self._pending:
            self._send({"op": "cancel", "id": request_id})

    def finished(self, request_id: int) -> None:
        self._pending.pop(request_id, None)

    def _send(self, message: dict[str, Any]) -> None:
        if self._stdin.is_closing():
            return  # the reader sees the death and answers every pending request
        self._stdin.write(encode(message))

    async def _read_replies(self) -> None:
        try:
            while line := await self._stdout.readline():
                message = json.loads(line)
                replies = self._pending.get(message.get("id", 0))
                if replies is not None:
                    replies.put_nowait(message)
                    if "p" not in message:
                        del self._pending[message["id"]]
        except (ValueError, ConnectionError) as error:
            log.error("unreadable reply from the llama.cpp worker: %s", error)
        returncode = await self._reap()
        self._stdin.close()
        self._died(WorkerExit(returncode))

    async def _reap(self) -> int:
        """The exit status; a worker that closed its pipe but lingers is killed."""
        if not await _exited_within(self.process, 0.5):
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await _exited_within(self.process, None)
        return self.process.wait()

    def _died(self, exit: WorkerExit) -> None:
        self.exit = exit
        self._exited.set()
        if self.on_exit is not None:
            try:
                self.on_exit(self, exit)
            except Exception:
                log.exception("worker exit listener failed")
        pending, self._pending = self._pending, {}
        for replies in pending.values():
            replies.put_nowait(exit)

    async def close(self, grace: float = 2.0) -> None:
        """Close the worker's stdin (it exits), and kill it if it lingers."""
        self.on_exit = None
        self._stdin.close()
        try:
            await asyncio.wait_for(asyncio.shield(self._exited.wait()), grace)
        except TimeoutError:
            self.kill()
            await self._exited.wait()

    def kill(self) -> None:
        """For a worker that must stop now (a load that is abandoned)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


async def _exited_within(process: subprocess.Popen[bytes], seconds: float | None) -> bool:
    """Wait for ``process`` to end without blocking the loop (a pidfd, else a thread)."""
    if process.poll() is not None:
        return True
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), seconds)
        except TimeoutError:
            return False
        return True
    loop = asyncio.get_running_loop()
    ended: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ended.done():
            ended.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await asyncio.wait_for(ended, seconds)
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)


# ----- the child's side -----------------------------------------------------------


class _Cancelled(Exception):
    pass


class _ContextTooLong(Exception):
    pass


class _Output:
    """Replies to the server on a private fd, one write per message."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


@dataclass(frozen=True)
class PromptLookup:
    """Prompt-lookup decoding: draft tokens copied from the context itself.

    The draft is what followed the latest earlier occurrence of the longest
    suffix n-gram (``max_ngram`` tokens down to ``min_ngram``) of the prompt
    plus what was generated. Code repeats itself (names, argument lists,
    test cases), and verifying a draft costs one batched decode instead of
    one decode per token. One-token matches are left out by default: on
    bench/speculative.py they were rejected too often to pay for their batch.
    """

    draft_tokens: int = 4
    max_ngram: int = 3
    min_ngram: int = 2

    def drafts(self, history: Any, limit: int) -> list[int]:
        """Up to ``limit`` tokens that may follow ``history`` (a 1-d numpy int array)."""
        from numpy.lib.stride_tricks import sliding_window_view

        limit = min(limit, self.draft_tokens)
        length = int(history.shape[0])
        if limit <= 0:
            return []
        for size in range(min(self.max_ngram, length - 1), self.min_ngram - 1, -1):
            # Windows that start and end before the last token, so a match has a successor.
            windows = sliding_window_view(history[:-1], size)
            matches = (windows == history[-size:]).all(axis=1).nonzero()[0]
            if matches.size:
                start = int(matches[-1]) + size
                drafts: list[int] = history[start : start + limit].tolist()
                return drafts
        return []


def prompt_lookup(options: dict[str, Any]) -> PromptLookup | None:
    """The ``PromptLookup`` the engine options ask for, or None (speculation off)."""
    if options.get("speculative", "off") != "prompt-lookup":
        return None
    # One verify batch must fit llama.cpp's batch (the last token plus the drafts).
    limit = max(0, int(options["n_batch"]) - 1)
    max_ngram = int(options.get("speculative_ngram", 3))
    return PromptLookup(
        draft_tokens=min(limit, int(options.get("speculative_draft_tokens", 4))),
        max_ngram=max_ngram,
        min_ngram=min(2, max_ngram),
    )


class _Model:
    """The llama.cpp model of one worker: load, count, generate."""

    def __init__(self) -> None:
        self.llama: Any = None
        self.lookup: PromptLookup | None = None

    def load(self, request: dict[str, Any]) -> dict[str, Any]:
        options: dict[str, Any] = request["options"]
        path = Path(options["model_path"])
        if os.environ.get(FAULT_ENV) == "load":
            ctypes.string_at(0)  # a real SIGSEGV, as a broken build or setting gives
        import llama_cpp
        from llama_cpp import Llama

        started = time.perf_counter()
        n_ctx = int(options["n_ctx"])
        trained = _trained_context(path)
        if trained and trained < n_ctx:
            log.info("%s was trained on %d tokens of context; using that", path, trained)
            n_ctx = trained
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=n_ctx,
                n_threads=options.get("n_threads"),
                n_batch=int(options["n_batch"]),
                n_gpu_layers=int(options["n_gpu_layers"]),
                seed=int(options["seed"]),
                use_mmap=bool(options.get("use_mmap", True)),
                verbose=False,
                **flash_attention_kwargs(
                    str(options.get("flash_attention", "auto")), _architecture(path)
                ),
            )
        except (ValueError, RuntimeError, OSError) as error:
            raise _LoadFailed(f"llama.cpp could not load {path}: {error}") from error
        self.llama = llama
        self.lookup = prompt_lookup(options)
        metadata = {str(k): str(v) for k, v in (llama.metadata or {}).items()}
        probe: list[str] = request.get("probe_tokens", [])
        special = sorted(token for token in probe if self.count(token) == 1)
        eos = {llama.token_eos()}
        eot = llama._model.token_eot()
        if eot >= 0:
            eos.add(eot)
        params = llama.context_params
        return {
            "name": metadata.get("general.name") or path.stem,
            "context_length": llama.n_ctx(),
            "eos_token_ids": sorted(t for t in eos if t >= 0),
            "special_tokens": special,
            "metadata": metadata,
            "context_params": {
                "n_ctx": int(params.n_ctx),
                "n_batch": int(params.n_batch),
                "n_threads": int(params.n_threads),
                "flash_attn_type": int(params.flash_attn_type),
            },
            "system_info": llama_cpp.llama_print_system_info().decode("utf-8", "replace"),
            "load_seconds": time.perf_counter() - started,
        }

    def count(self, text: str) -> int:
        # Tokenizing reads only the vocabulary, which is safe beside a decode.
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(
        self,
        request: dict[str, Any],
        cancelled: Callable[[], bool],
        emit: Callable[[str, int], None],
    ) -> dict[str, Any]:
        """Stream one generation; return its usage (raises _Cancelled with usage)."""
        usage: dict[str, Any] = {
            "prompt_tokens": 0,
            "prompt_tokens_total": 0,
            "generated": 0,
            "drafted": 0,
            "accepted": 0,
        }
        started = time.perf_counter()
        try:
            usage["finish_reason"] = self._generate(request, usage, cancelled, emit)
        except _Cancelled:
            usage["finish_reason"] = "cancelled"
        usage["engine_seconds"] = time.perf_counter() - started
        return usage

    def _generate(
        self,
        request: dict[str, Any],
        usage: dict[str, Any],
        cancelled: Callable[[], bool],
        emit: Callable[[str, int], None],
    ) -> str:
        import llama_cpp

        llama = self.llama
        add_bos = bool(llama._model.add_bos_token())
        tokens = llama.tokenize(request["prompt"].encode("utf-8"), add_bos=add_bos, special=True)
        usage["prompt_tokens_total"] = len(tokens)
        n_ctx = llama.n_ctx()
        if len(tokens) + 1 > n_ctx:
            raise _ContextTooLong(
                f"prompt of {len(tokens)} tokens does not fit the context of {n_ctx}"
            )
        max_tokens = max(0, min(int(request["max_tokens"]), n_ctx - len(tokens)))
        usage["prompt_tokens"] = self._evaluate_prompt(tokens, cancelled)
        if max_tokens == 0:
            return "length"
        temperature = float(request["temperature"])
        greedy = temperature <= 0
        stop_ids = set(request.get("stop_token_ids", ()))
        vocab = llama._model.vocab
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        previous = tokens[-1:]
        seed = request.get("seed")
        if not greedy and seed is not None:
            llama.set_seed(int(seed))  # alternatives: the same seed gives the same sample
        if greedy and self.lookup is not None:
            tokens_out = self._lookup_decode(tokens[-1], max_tokens, self.lookup, usage)
        else:
            tokens_out = llama.generate(
                tokens,
                top_k=1 if greedy else 40,
                top_p=1.0 if greedy else float(request["top_p"]),
                min_p=0.0,
                temp=0.0 if greedy else temperature,
                repeat_penalty=1.0,
                reset=True,
            )
        for generated, token in enumerate(tokens_out, start=1):
            if cancelled():
                raise _Cancelled
            if token in stop_ids or llama_cpp.llama_vocab_is_eog(vocab, token):
                return "stop"  # the stop token itself is not counted
            usage["generated"] = generated
            piece = decoder.decode(llama.detokenize([token], prev_tokens=previous))
            previous = [token]
            if piece:
                emit(piece, generated)
            if generated >= max_tokens:
                return "length"
        return "stop"

    def _lookup_decode(
        self, last: int, max_tokens: int, lookup: PromptLookup, usage: dict[str, Any]
    ) -> Iterator[int]:
        """Greedy tokens after the prompt, several per decode where drafts are right.

        Each step evaluates the token not yet in the KV cache plus the drafts
        that follow it, as one batch with logits for those positions only
        (llama-cpp-python's own ``draft_model`` keeps logits for the whole
        context: n_ctx x n_vocab floats). The argmax after each position is
        the greedy token there; drafts count while they match it, and the KV
        cache loses the positions of the rejected ones. ``llama.input_ids``
        and ``llama.n_tokens`` always describe the KV cache, so the next
        request's prefix reuse holds; a consumer that stops early leaves it
        consistent too.
        """
        llama = self.llama
        pending = last
        emitted = 0
        while True:
            # Room for the drafts: each one accepted emits a token, and so does the last.
            llama.input_ids[llama.n_tokens] = pending
            drafts = lookup.drafts(llama.input_ids[: llama.n_tokens + 1], max_tokens - emitted - 1)
            greedy = self._evaluate_for_argmax([pending, *drafts])
            accepted = 0
            while accepted < len(drafts) and drafts[accepted] == greedy[accepted]:
                accepted += 1
            if accepted < len(drafts):
                llama.n_tokens -= len(drafts) - accepted
                llama._ctx.kv_cache_seq_rm(-1, llama.n_tokens, -1)
            usage["drafted"] += len(drafts)
            usage["accepted"] += accepted
            for token in greedy[: accepted + 1]:
                emitted += 1
                yield token
            pending = greedy[accepted]

    def _evaluate_for_argmax(self, batch: list[int]) -> list[int]:
        """Append ``batch`` to the KV cache; the argmax of the logits after each token."""
        import numpy as np

        llama = self.llama
        n_past = llama.n_tokens
        llama._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llama._batch.set_batch(batch=batch, n_past=n_past, logits_all=True)
        llama._ctx.decode(llama._batch)
        llama.input_ids[n_past : n_past + len(batch)] = batch
        llama.n_tokens = n_past + len(batch)
        # llama.cpp keeps the requested rows contiguous, in batch order.
        logits = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(len(batch), llama._n_vocab))
        greedy: list[int] = logits.argmax(axis=1).tolist()
        return greedy

    def _evaluate_prompt(self, tokens: list[int], cancelled: Callable[[], bool]) -> int:
        """Evaluate all but the last prompt token in chunks; return how many were new.

        Tokens already in the KV cache are kept. Chunking lets a cancelled
        request abandon a long prompt between chunks; ``generate`` then finds
        the whole prefix cached and evaluates only the last token.
        """
        llama = self.llama
        cached = llama.input_ids[: llama.n_tokens]
        common = 0
        for have, want in zip(cached, tokens[:-1], strict=False):
            if have != want:
                break
            common += 1
        llama.n_tokens = common
        pending = tokens[common:-1]
        for start in range(0, len(pending), PROMPT_EVAL_CHUNK):
            if cancelled():
                raise _Cancelled
            llama.eval(pending[start : start + PROMPT_EVAL_CHUNK])
        return len(pending) + 1


class _LoadFailed(Exception):
    pass


def _trained_context(path: Path) -> int:
    try:
        return trained_context_length(path)
    except GGUFHeaderError as error:
        log.debug("no trained context length from %s: %s", path, error)
        return 0  # llama.cpp's own load reports what is wrong with the file


def _architecture(path: Path) -> str | None:
    try:
        values = read_metadata(
            path, lambda key: key == "general.architecture", lambda found: bool(found)
        )
    except GGUFHeaderError:
        return None
    value = values.get("general.architecture")
    return value if isinstance(value, str) else None


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel for SIGKILL when the parent dies (Linux), and check it still lives."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # it died before the prctl took effect
        os._exit(0)


class _Worker:
    """The child's loop: one thread, which reads the pipe whenever it is not decoding.

    Between tokens and between prompt chunks the decode loop looks at stdin
    without waiting (one ``select``); what has arrived is handled there and
    then: a cancel sets its flag, a count is answered, new work is queued.
    """

    def __init__(self, output: _Output, control_fd: int = 0):
        self.output = output
        self.control_fd = control_fd
        self.model = _Model()
        self.jobs: deque[dict[str, Any]] = deque()
        self.cancelled: set[int] = set()
        self._partial = b""

    def read_control(self, timeout: float | None) -> None:
        """Take in every request that has arrived, waiting up to ``timeout`` for one."""
        readable, _, _ = select.select([self.control_fd], [], [], timeout)
        if not readable:
            return
        data = os.read(self.control_fd, 1 << 20)
        if not data:
            os._exit(0)  # stdin closed: the server is gone or done with us
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._take(line)

    def _take(self, line: bytes) -> None:
        try:
            request = json.loads(line)
            op = request["op"]
        except (ValueError, KeyError, TypeError):
            log.error("unreadable request: %.200r", line)
            return
        if op == "cancel":
            self.cancelled.add(int(request["id"]))
        elif op == "count":
            self._count(request)
        else:
            self.jobs.append(request)

    def _count(self, request: dict[str, Any]) -> None:
        if self.model.llama is None:
            self.output.send({"id": request["id"], "error": "not loaded", "kind": "state"})
            return
        self.output.send({"id": request["id"], "count": self.model.count(request["text"])})

    def run(self) -> None:
        while True:
            if not self.jobs:
                self.read_control(None)
                continue
            request = self.jobs.popleft()
            request_id = int(request["id"])
            try:
                reply = self._run(request_id, request)
            except _LoadFailed as error:
                reply = {"error": str(error), "kind": "load"}
            except _ContextTooLong as error:
                reply = {"error": str(error), "kind": "context"}
            except Exception as error:  # reported to the server, not lost here
                log.exception("request %s failed", request["op"])
                reply = {"error": f"{type(error).__name__}: {error}", "kind": "other"}
            self.cancelled.discard(request_id)
            self.output.send({"id": request_id, **reply})

    def _run(self, request_id: int, request: dict[str, Any]) -> dict[str, Any]:
        op = request["op"]
        if op == "load":
            return {"done": self.model.load(request)}
        if op == "generate":
            # Cancels of finished requests that crossed their reply are dropped here.
            self.cancelled.difference_update([i for i in self.cancelled if i < request_id])
            output = self.output

            def emit(piece: str, generated: int) -> None:
                output.send({"id": request_id, "p": piece, "n": generated})

            def cancelled() -> bool:
                self.read_control(0)
                return request_id in self.cancelled

            return {"done": self.model.generate(request, cancelled, emit)}
        if op == "system_info":  # needs no model: what the llama.cpp build can use
            import llama_cpp

            return {"done": llama_cpp.llama_print_system_info().decode("utf-8", "replace")}
        raise ValueError(f"unknown request {op!r}")


def main(argv: list[str]) -> int:
    """Entry point of ``python -m engines.llama_worker PARENT_PID``."""
    die_with_parent(int(argv[0]) if argv else os.getppid())
    faulthandler.enable(file=sys.stderr)  # a native fault leaves its Python stack in the log
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s llama-worker[%(process)d] %(name)s: %(message)s",
    )
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)  # whatever native code prints goes to stderr
    sys.stdout = sys.stderr
    _Worker(_Output(protocol_fd)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

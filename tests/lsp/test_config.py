"""The config tree: camelCase structuring, precedence, and bad values."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from completion.decisions import Multiline
from lsp.config import (
    Config,
    ConfigSources,
    effective,
    from_environment,
    load_file_sources,
    settings_from_client,
    structure_config,
    unstructure,
)


def test_defaults() -> None:
    config, problems = structure_config({})
    assert config == Config() and problems == []
    assert config.engine.name == "llama-cpp"


def test_camel_case_tree_from_initialization_options() -> None:
    config, problems = structure_config(
        {
            "model": {"path": "/m.gguf"},
            "engine": {"name": "llama-cpp", "nCtx": 2048, "gpuLayers": 10},
            "maxTokens": 32,
            "context": {"maxTokens": 512, "multiline": "never"},
        }
    )
    assert problems == []
    assert config.max_tokens == 32
    assert config.engine.n_ctx == 2048 and config.engine.gpu_layers == 10
    assert config.context.max_tokens == 512 and config.context.multiline is Multiline.NEVER
    settings = config.engine_settings()
    assert settings.model_path == "/m.gguf" and settings.n_ctx == 2048


def test_snake_case_keys_are_accepted() -> None:
    config, problems = structure_config({"max_tokens": 12, "engine": {"n_ctx": 1024}})
    assert problems == [] and config.max_tokens == 12 and config.engine.n_ctx == 1024


def test_bad_values_are_dropped_and_named() -> None:
    config, problems = structure_config(
        {"maxTokens": "lots", "engine": {"nCtx": 1024, "warp": 9}, "bogus": True}
    )
    assert config.max_tokens == Config().max_tokens
    assert config.engine.n_ctx == 1024  # the good sibling survives
    text = " | ".join(problems)
    assert "maxTokens" in text and "warp" in text and "bogus" in text


def test_switches_take_only_clear_answers() -> None:
    config, problems = structure_config(
        {"enable": "no", "context": {"syntaxCut": "maybe", "lineInMiddle": "off", "pinHeader": 0}}
    )
    assert config.enable is False
    assert config.context.line_in_middle is False and config.context.pin_header is False
    assert config.context.syntax_cut is True  # the default, with a message
    assert problems == ['context.syntaxCut: expected true or false, got "maybe"; using the default']


def test_out_of_range_values_fall_back() -> None:
    config, problems = structure_config({"maxTokens": 0, "temperature": -2})
    assert config.max_tokens == Config().max_tokens and config.temperature == 0.0
    assert any("maxTokens" in p for p in problems)


def test_environment_shortcuts_and_generic_paths() -> None:
    raw = from_environment(
        {
            "DSCODER_MODEL": "/env.gguf",
            "DSCODER_MAX_TOKENS": "20",
            "DSCODER__engine__threads": "3",
            "DSCODER__context__multiline": "always",
            "UNRELATED": "x",
        }
    )
    config, problems = structure_config(raw)
    assert problems == []
    assert config.model.path == "/env.gguf" and config.max_tokens == 20
    assert config.engine.threads == 3 and config.context.multiline is Multiline.ALWAYS


def test_precedence_files_env_flags_init_workspace(tmp_path: Path) -> None:
    config_file = tmp_path / "dscoder.toml"
    config_file.write_text("maxTokens = 10\ntemperature = 0.5\n[engine]\nn_ctx = 1000\n")
    files, problems = load_file_sources(str(config_file), {"XDG_CONFIG_HOME": str(tmp_path)})
    assert problems == []
    sources = ConfigSources(
        files=files,
        environment={"maxTokens": 11},
        flags={"maxTokens": 12},
        initialization={"maxTokens": 13, "engine": {"threads": 2}},
    )
    config, _ = sources.build()
    assert config.max_tokens == 13 and config.temperature == 0.5
    assert config.engine.n_ctx == 1000 and config.engine.threads == 2
    sources.workspace = {"maxTokens": 14}
    assert sources.build()[0].max_tokens == 14


def test_user_config_dir_is_read(tmp_path: Path) -> None:
    user = tmp_path / "dscoder-lsp" / "config.toml"
    user.parent.mkdir()
    user.write_text('template = "qwen"\n')
    files, _ = load_file_sources(None, {"XDG_CONFIG_HOME": str(tmp_path)})
    assert structure_config(files)[0].template == "qwen"


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("maxTokens = = 3")
    files, problems = load_file_sources(str(broken), {"XDG_CONFIG_HOME": str(tmp_path)})
    assert files == {} and "not valid TOML" in problems[0]


def test_missing_config_file_is_reported(tmp_path: Path) -> None:
    _, problems = load_file_sources(str(tmp_path / "nope.toml"), {})
    assert "cannot read config file" in problems[0]


def test_unstructure_round_trips_and_hides_the_api_key() -> None:
    config, _ = structure_config({"engine": {"apiKey": "secret", "nCtx": 999}})
    raw = unstructure(config)
    assert raw["engine"]["apiKey"] == "***" and raw["engine"]["nCtx"] == 999
    raw["engine"]["apiKey"] = "secret"
    assert structure_config(raw)[0] == config


# One row per rule: the raw settings, the key the message must name, and the
# value the config ends up with (the default, or the cross-field fallback).
BAD_VALUES = [
    ({"temperature": math.nan}, "temperature", ("temperature", 0.0)),
    ({"temperature": math.inf}, "temperature", ("temperature", 0.0)),
    ({"temperature": 7}, "temperature", ("temperature", 0.0)),
    ({"topP": math.nan}, "topP", ("top_p", 1.0)),
    ({"topP": -0.5}, "topP", ("top_p", 1.0)),
    ({"template": "nonsense"}, "deepseek", ("template", "auto")),
    ({"maxTokens": 0}, "maxTokens", ("max_tokens", 64)),
    ({"maxTokens": 2.5}, "maxTokens", ("max_tokens", 64)),
    ({"maxTokens": True}, "maxTokens", ("max_tokens", 64)),
    ({"maxTokens": 3000}, "engine.nCtx", ("max_tokens", 2048)),
    ({"maxTokensMultiline": 4000}, "engine.nCtx", ("max_tokens_multiline", 2048)),
    ({"maxDocumentBytes": -1}, "maxDocumentBytes", ("max_document_bytes", 10_000_000)),
    ({"engine": {"name": "gpt-7"}}, "llama-cpp", ("engine.name", "llama-cpp")),
    ({"engine": {"threads": -2}}, "engine.threads", ("engine.threads", None)),
    ({"engine": {"threads": 10_000}}, "engine.threads", ("engine.threads", None)),
    ({"engine": {"nBatch": 0}}, "engine.nBatch", ("engine.n_batch", 512)),
    ({"engine": {"nCtx": 10}}, "engine.nCtx", ("engine.n_ctx", 4096)),
    ({"engine": {"flashAttention": "maybe"}}, "auto, on, off", ("engine.flash_attention", "auto")),
    ({"engine": {"connectTimeout": -1}}, "engine.connectTimeout", ("engine.connect_timeout", 3.0)),
    ({"engine": {"connectTimeout": 0}}, "engine.connectTimeout", ("engine.connect_timeout", 3.0)),
    ({"context": {"prefixShare": 1.5}}, "context.prefixShare", ("context.prefix_share", 0.8)),
    ({"context": {"prefixShare": -0.1}}, "context.prefixShare", ("context.prefix_share", 0.8)),
    ({"context": {"multiline": "sometimes"}}, "always", ("context.multiline", Multiline.AUTO)),
    ({"scheduler": {"cacheEntries": -5}}, "cacheEntries", ("scheduler.cache_entries", 512)),
    (
        {"scheduler": {"cancelledGraceMs": -1}},
        "cancelledGraceMs",
        ("scheduler.cancelled_grace_ms", 150),
    ),
    ({"scheduler": {"debounceMs": 1e7}}, "debounceMs", ("scheduler.debounce_ms", 60)),
    ({"stop": "END"}, "stop", ("stop", ())),
    ({"engine": "fast"}, "engine", ("engine.name", "llama-cpp")),
]


def _value(config: Config, path: str) -> object:
    value: object = config
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("raw", "named", "expected"), BAD_VALUES, ids=lambda v: str(v)[:40])
def test_each_rule_names_the_key_and_falls_back(
    raw: dict[str, object], named: str, expected: tuple[str, object]
) -> None:
    config, problems = structure_config(raw)
    assert len(problems) == 1, problems
    assert named in problems[0], problems
    path, value = expected
    assert _value(config, path) == value


def test_thread_count_up_to_four_per_core_is_accepted() -> None:
    cores = os.cpu_count() or 1
    config, problems = structure_config({"engine": {"threads": cores * 4}})
    assert problems == [] and config.engine.threads == cores * 4


def test_good_siblings_survive_a_bad_value() -> None:
    config, problems = structure_config({"temperature": math.nan, "topP": 0.5, "maxTokens": 9})
    assert config.top_p == 0.5 and config.max_tokens == 9 and len(problems) == 1


def test_other_tools_sections_are_not_unknown_settings() -> None:
    assert settings_from_client({"python": {"analysis": {}}, "editor": {"tabSize": 4}}) == {}
    assert settings_from_client({"dscoder": {"maxTokens": 5}, "python": {}}) == {"maxTokens": 5}
    mixed = settings_from_client({"maxTokens": 5, "bogus": 1})
    assert structure_config(mixed)[1] == ["unknown setting bogus in the top level"]


def test_effective_config_is_json_and_names_the_model() -> None:
    import json

    config, _ = structure_config({"temperature": math.nan})
    printed = json.dumps(effective(config), allow_nan=False)
    path = json.loads(printed)["model"]["path"]
    assert path is not None and path == config.engine_settings().model_path

"""The ``context.crossFile`` section: keys, checks, and the defaults on a bad value."""

from __future__ import annotations

from lsp.config import structure_config


def test_cross_file_keys_are_camel_case() -> None:
    config, problems = structure_config(
        {
            "context": {
                "crossFile": {
                    "share": 0.4,
                    "sources": ["imports"],
                    "openFiles": {"windowLines": 20},
                }
            }
        }
    )
    assert problems == []
    cross = config.context.cross_file
    assert (cross.share, cross.sources, cross.open_files.window_lines) == (0.4, ("imports",), 20)
    assert cross.wants("imports") and not cross.wants("openFiles")


def test_a_bad_share_is_named_and_the_section_defaults() -> None:
    config, problems = structure_config({"context": {"maxTokens": 900, "crossFile": {"share": 5}}})
    assert problems == [
        "context.crossFile.share: 5.0 is not allowed (expected between 0 and 0.9); "
        "using the default (0.3)"
    ]
    assert config.context.cross_file.share == 0.3 and config.context.max_tokens == 900


def test_unknown_sources_are_named() -> None:
    _, problems = structure_config({"context": {"crossFile": {"sources": ["imports", "tabs"]}}})
    assert len(problems) == 1
    assert problems[0].startswith('context.crossFile.sources: ["imports", "tabs"] is not allowed')
    assert "imports, openFiles, recent" in problems[0]

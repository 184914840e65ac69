"""Redaction: secrets masked in anything a person reads."""

from __future__ import annotations

import logging

from engines.base import EngineError
from engines.credentials import MASK, RedactingFormatter, redact, remember_secret


def test_url_credentials_are_masked() -> None:
    assert redact("cannot reach http://bob:hunter2@10.0.0.5:8000/v1") == (
        f"cannot reach http://bob:{MASK}@10.0.0.5:8000/v1"
    )


def test_a_remembered_key_is_masked_even_without_a_known_shape() -> None:
    remember_secret("plain-key-7f3a9c")
    assert redact("Incorrect API key provided: plain-key-7f3a9c.") == (
        f"Incorrect API key provided: {MASK}."
    )


def test_known_shapes_and_bearer_tokens_are_masked() -> None:
    text = "Authorization: Bearer abcdefgh12345678 key sk-abcdefghijklmnopqrstuvwx"
    masked = redact(text)
    assert "abcdefgh12345678" not in masked
    assert "sk-abcdefghijklmnopqrstuvwx" not in masked


def test_short_values_are_not_remembered() -> None:
    remember_secret("ab")
    assert redact("ab cab") == "ab cab"


def test_engine_errors_are_redacted_when_made() -> None:
    remember_secret("echoed-key-91b2")
    error = EngineError("openai at http://u:pw@h/v1 rejected the key: echoed-key-91b2")
    assert str(error) == f"openai at http://u:{MASK}@h/v1 rejected the key: {MASK}"


def test_log_lines_and_tracebacks_are_redacted() -> None:
    remember_secret("traceback-key-5521")
    formatter = RedactingFormatter("%(message)s")
    try:
        raise ValueError("boom traceback-key-5521")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "t", logging.ERROR, __file__, 1, "url %s", ("http://a:b@c",), sys.exc_info()
        )
    line = formatter.format(record)
    assert "traceback-key-5521" not in line
    assert "a:b@" not in line and f"a:{MASK}@c" in line

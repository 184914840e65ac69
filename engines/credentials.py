"""Credential shapes as data, and the one function that masks them in text.

Two users share the table below:

- ``completion/privacy.py`` replaces matches in a prompt with a placeholder
  before the prompt leaves the machine (secret scrubbing);
- ``redact`` masks the same shapes, plus the secrets this process was given
  (the API key, the TCP token), in anything shown to a person: log lines,
  popups, error messages quoted from servers, ``dscoder-lsp config``.

It sits in engines/, the lowest layer, because engines build the error
messages that quote server bodies, and every layer above may import it.

Patterns were written for this project (detect-secrets was considered: its
plugins scan a line and report a value, not a span, and its private-key
plugin flags only the ``BEGIN`` line, which would let the key body through).
Each pattern names the group that holds the secret; the text around it (the
``aws_secret_access_key =`` that says what it was) stays, so code still reads.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretPattern:
    """One credential shape: ``group`` of ``regex`` is the secret itself.

    ``hints`` are substrings one of which every match contains (compared
    lower-cased when ``fold``): the regex runs only on text that has one, so a
    prompt without credentials costs a few substring searches. When
    ``anchored``, every match starts with a hint, and the regex is tried only
    at the hints' positions (common words such as "token" stay cheap).
    """

    name: str
    regex: re.Pattern[str]
    group: int
    hints: tuple[str, ...]
    fold: bool = False
    anchored: bool = False


def _pattern(
    name: str,
    regex: str,
    hints: tuple[str, ...],
    group: int = 0,
    fold: bool = False,
    anchored: bool = False,
) -> SecretPattern:
    flags = re.IGNORECASE if fold else 0
    return SecretPattern(name, re.compile(regex, flags), group, hints, fold, anchored)


_KEY_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "api_key", "api-key", "apikey")

SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _pattern(
        "private-key-block",
        # An unterminated block (the cursor inside it) runs to the end of the text.
        rf"-----BEGIN {_KEY_LABEL}-----[\s\S]*?(?:-----END {_KEY_LABEL}-----|\Z)",
        ("PRIVATE KEY",),
    ),
    _pattern(
        "aws-access-key-id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
    ),
    _pattern(
        "aws-secret-access-key",
        r"(aws_secret_access_key[\"']?\s*[:=]>?\s*[\"']?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ("aws_secret_access_key",),
        group=2,
        fold=True,
    ),
    _pattern(
        "github-token",
        r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ),
    _pattern("github-fine-grained-token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b", ("github_pat_",)),
    _pattern(
        "gitlab-token",
        r"\bgl(?:pat|dt|ptt|rt|cbt|oas)-[A-Za-z0-9_\-]{20,}",
        ("glpat-", "gldt-", "glptt-", "glrt-", "glcbt-", "gloas-"),
    ),
    _pattern("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", ("xox",)),
    _pattern(
        "slack-webhook",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
        ("hooks.slack.com",),
    ),
    _pattern(
        "openai-style-key", r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}", ("sk-",)
    ),
    _pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", ("eyJ",)),
    _pattern(
        # scheme://user:PASSWORD@host; starts at "://" so the regex engine can seek it.
        "url-credentials",
        r"(://[^/\s:@\"']+:)([^/\s@\"']+)(?=@)",
        ("://",),
        group=2,
    ),
    _pattern(
        # A digit somewhere: "Bearer authentication" in prose is not a token.
        "bearer-token",
        r"(\bBearer\s+)((?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,}=*)",
        ("bearer",),
        group=2,
        fold=True,
    ),
    _pattern(
        # password = "hunter22", "api_key": 'abc...', token: "..."
        "quoted-assignment",
        r"((?:password|passwd|pwd|secret|token|api[_-]?key|apikey)"
        r"[A-Za-z0-9_]*[\"']?\s*(?::=|=>|[:=])\s*)([\"'])([^\"'\s]{4,})\2",
        _SECRET_WORDS,
        group=3,
        fold=True,
        anchored=True,
    ),
    _pattern(
        # PASSWORD=hunter22 in .env and shell style (literal, not $VAR or a call)
        "env-assignment",
        r"(?m)(^[ \t]*(?:export[ \t]+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY)"
        r"[A-Z0-9_]*[ \t]*=[ \t]*)([^\s\"'$#(){}\[\]][^\s#]{3,})",
        ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "API_KEY", "APIKEY"),
        group=2,
    ),
)


def _matches(pattern: SecretPattern, text: str, haystack: str) -> list[re.Match[str]]:
    if not pattern.anchored:
        return list(pattern.regex.finditer(text))
    starts: set[int] = set()
    for hint in pattern.hints:
        at = haystack.find(hint)
        while at >= 0:
            starts.add(at)
            at = haystack.find(hint, at + 1)
    found: list[re.Match[str]] = []
    for start in sorted(starts):
        if found and start < found[-1].end():
            continue
        if (match := pattern.regex.match(text, start)) is not None:
            found.append(match)
    return found


def replace_secrets(text: str, replacement: str) -> tuple[str, int]:
    """``text`` with every credential shape's secret replaced; and how many were."""
    count = 0
    for pattern in SECRET_PATTERNS:
        haystack = text.lower() if pattern.fold else text
        if not any(hint in haystack for hint in pattern.hints):
            continue
        pieces: list[str] = []
        done = 0
        for match in _matches(pattern, text, haystack):
            if match.group(pattern.group) == replacement:
                continue
            count += 1
            pieces += [text[done : match.start(pattern.group)], replacement]
            done = match.end(pattern.group)
        if pieces:
            text = "".join(pieces) + text[done:]
    return text, count


# ----- redaction for people ---------------------------------------------------

MASK = "***"
_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears from now on (an API key, a token)."""
    if value and len(value.strip()) >= 4:
        with _known_lock:
            _known.add(value.strip())


def redact(text: str) -> str:
    """``text`` with known secrets and credential shapes masked, for logs and messages."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    masked, _ = replace_secrets(text, MASK)
    return masked


class RedactingFormatter(logging.Formatter):
    """A formatter whose lines, tracebacks included, pass through ``redact``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))

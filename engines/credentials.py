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
    """One credential shape: ``group`` of ``regex`` is the secret itself."""

    name: str
    regex: re.Pattern[str]
    group: int = 0


def _pattern(name: str, regex: str, group: int = 0, flags: int = 0) -> SecretPattern:
    return SecretPattern(name, re.compile(regex, flags), group)


_KEY_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"

SECRET_PATTERNS: tuple[SecretPattern, ...] = (
    _pattern(
        "private-key-block",
        # An unterminated block (the cursor inside it) runs to the end of the text.
        rf"-----BEGIN {_KEY_LABEL}-----[\s\S]*?(?:-----END {_KEY_LABEL}-----|\Z)",
    ),
    _pattern("aws-access-key-id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    _pattern(
        "aws-secret-access-key",
        r"(aws_secret_access_key[\"']?\s*[:=]>?\s*[\"']?)([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        group=2,
        flags=re.IGNORECASE,
    ),
    _pattern("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b"),
    _pattern("github-fine-grained-token", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    _pattern("gitlab-token", r"\bgl(?:pat|dt|ptt|rt|cbt|oas)-[A-Za-z0-9_\-]{20,}"),
    _pattern("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    _pattern(
        "slack-webhook",
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+",
    ),
    _pattern("openai-style-key", r"\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_\-]{20,}"),
    _pattern("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    _pattern(
        "url-credentials",
        r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"']+:)([^/\s@\"']+)(?=@)",
        group=2,
    ),
    _pattern(
        "bearer-token",
        r"(\bBearer\s+)([A-Za-z0-9._~+/-]{8,}=*)",
        group=2,
        flags=re.IGNORECASE,
    ),
    _pattern(
        # password = "hunter22", "api_key": 'abc...', token: "..."
        "quoted-assignment",
        r"(\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey)"
        r"[A-Za-z0-9_]*[\"']?\s*(?::=|=>|[:=])\s*)([\"'])([^\"'\s]{4,})\2",
        group=3,
        flags=re.IGNORECASE,
    ),
    _pattern(
        # PASSWORD=hunter22 in .env and shell style (literal, not $VAR or a call)
        "env-assignment",
        r"(?m)(^[ \t]*(?:export[ \t]+)?[A-Z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY)"
        r"[A-Z0-9_]*[ \t]*=[ \t]*)([^\s\"'$#(){}\[\]][^\s#]{3,})",
        group=2,
    ),
)


def replace_secrets(text: str, replacement: str) -> tuple[str, int]:
    """``text`` with every credential shape's secret replaced; and how many were."""
    count = 0
    for pattern in SECRET_PATTERNS:

        def substitute(match: re.Match[str], pattern: SecretPattern = pattern) -> str:
            nonlocal count
            if match.group(pattern.group) == replacement:
                return match.group(0)
            count += 1
            start = match.start(pattern.group) - match.start(0)
            end = match.end(pattern.group) - match.start(0)
            whole = match.group(0)
            return whole[:start] + replacement + whole[end:]

        text = pattern.regex.sub(substitute, text)
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

"""The privacy stage: exclusion globs and ignore files, and secret scrubbing."""

from __future__ import annotations

from pathlib import Path

import pytest

from completion.privacy import (
    DEFAULT_EXCLUDES,
    PLACEHOLDER,
    ExcludeOptions,
    Exclusion,
    ScrubOptions,
    reinserts_placeholder,
    scrub,
)
from engines.credentials import SECRET_PATTERNS

# ----- exclusion -----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/work/app/.env",
        "/work/app/.env.production",
        "/work/app/certs/server.pem",
        "/work/app/tls.key",
        "/home/me/.ssh/id_rsa",
        "/home/me/.ssh/id_rsa.pub",
        "/home/me/.ssh/id_ed25519",
        "/work/app/store.p12",
        "/work/app/store.pfx",
        "/home/me/.npmrc",
        "/home/me/.pypirc",
        "/home/me/.netrc",
        "/home/me/vault.kdbx",
        "/work/app/config/secrets.yaml",
        "/work/app/credentials.json",
        "/home/me/.aws/credentials",
    ],
)
def test_default_globs_exclude_credential_files(path: str) -> None:
    assert Exclusion().excludes(path)
    assert Exclusion().excludes(Path(path).as_uri())


@pytest.mark.parametrize(
    "path", ["/work/app/main.py", "/work/app/environment.py", "/work/app/keys.py", "untitled:1"]
)
def test_code_is_not_excluded(path: str) -> None:
    assert not Exclusion().excludes(path)


def test_every_default_glob_is_tested() -> None:
    assert len(DEFAULT_EXCLUDES) == 14


def test_the_reason_names_the_matching_glob() -> None:
    assert Exclusion().reason("file:///w/.env.local") == "excluded: matches .env.*"


def test_settings_add_to_the_defaults() -> None:
    exclusion = Exclusion(ExcludeOptions(patterns=("*.secret", "private/")), ["/w"])
    assert exclusion.excludes("/w/db.secret")
    assert exclusion.excludes("/w/private/notes.py")
    assert exclusion.excludes("/w/.env")
    assert not exclusion.excludes("/w/public/notes.py")


def test_defaults_can_be_turned_off() -> None:
    exclusion = Exclusion(ExcludeOptions(patterns=("*.secret",), defaults=False))
    assert not exclusion.excludes("/w/.env")
    assert exclusion.excludes("/w/a.secret")


def test_workspace_ignore_file_uses_gitignore_syntax(tmp_path: Path) -> None:
    (tmp_path / ".dscoderignore").write_text(
        "# generated and vendored code\n/build/\nvendor/**/*.py\n!.env.example\n"
    )
    exclusion = Exclusion(roots=[str(tmp_path)])
    assert exclusion.excludes(str(tmp_path / "build" / "out.py"))
    assert not exclusion.excludes(str(tmp_path / "src" / "build.py"))
    assert exclusion.excludes(str(tmp_path / "vendor" / "lib" / "x.py"))
    # A negation in the ignore file brings one default back.
    assert not exclusion.excludes(str(tmp_path / ".env.example"))
    assert exclusion.excludes(str(tmp_path / ".env"))


def test_ignore_file_changes_are_picked_up(tmp_path: Path) -> None:
    exclusion = Exclusion(roots=[str(tmp_path)])
    target = str(tmp_path / "notes.py")
    assert not exclusion.excludes(target)
    ignore = tmp_path / ".dscoderignore"
    ignore.write_text("notes.py\n")
    assert exclusion.excludes(target)
    ignore.unlink()
    assert not exclusion.excludes(target)


def test_ignore_file_of_another_root_does_not_apply(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / ".dscoderignore").write_text("*.py\n")
    exclusion = Exclusion(roots=[str(tmp_path / "a"), str(tmp_path / "b")])
    assert exclusion.excludes(str(tmp_path / "a" / "x.py"))
    assert not exclusion.excludes(str(tmp_path / "b" / "x.py"))


# ----- scrubbing -------------------------------------------------------------------

# One sample per pattern: (pattern name, text around the secret, the secret).
SAMPLES = {
    "private-key-block": (
        "KEY = '''\n{}\n'''\n",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq2\nq8Xy9Zx==\n"
        "-----END RSA PRIVATE KEY-----",
    ),
    "aws-access-key-id": ("aws_access_key_id = {}\n", "AKIAIOSFODNN7EXAMPLF"),
    "aws-secret-access-key": (
        "aws_secret_access_key = {}\n",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    "github-token": ("GH = {}\n", "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    "github-fine-grained-token": (
        "t = {}\n",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv",
    ),
    "gitlab-token": ("t = {}\n", "glpat-xYz123AbC456dEf789gH"),
    "slack-token": ("t = {}\n", "xoxb-123456789012-1234567890123-AbCdEfGhIjKl"),
    "slack-webhook": (
        "hook = {}\n",
        "https://hooks.slack.com/services/T0000AAAA/B0000BBBB/XXXXyyyyZZZZwwww1234",
    ),
    "openai-style-key": (
        "client = OpenAI(api_key=os.environ.get('K', {}))\n",
        "sk-proj-AbCdEf0123456789GhIjKlMn",
    ),
    "jwt": (
        "auth = {}\n",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    "url-credentials": ("DB = 'postgres://admin:{}@db.internal/app'\n", "s3cr3tPassw0rd"),
    "bearer-token": ("headers = {{'Authorization': 'Bearer {}'}}\n", "abcdef0123456789xyz"),
    "quoted-assignment": ('db_password = "{}"\n', "hunter2hunter2"),
    "env-assignment": ("export API_TOKEN={}\n", "p4ssw0rd-literal"),
}


def test_every_pattern_has_a_sample() -> None:
    assert sorted(SAMPLES) == sorted(pattern.name for pattern in SECRET_PATTERNS)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_credential_shape_is_scrubbed(name: str) -> None:
    template, secret = SAMPLES[name]
    text = "import os\n\n" + template.format(secret) + "print('done')\n"
    prefix, _suffix, count = scrub(text, "")
    assert secret not in prefix
    assert PLACEHOLDER in prefix
    assert count >= 1
    # Only the secret goes: the code around it still reads.
    assert prefix.startswith("import os\n\n") and prefix.endswith("print('done')\n")


@pytest.mark.parametrize(
    "text",
    [
        "password = get_password()\n",
        "token = request.headers['token']\n",
        "PASSWORD=$DB_PASSWORD\n",
        "def tokenize(text):\n    return text.split()\n",
        "url = 'https://example.com/path'\n",
        "key = 'short'\n",
        "# Uses Bearer authentication over HTTPS.\n",
    ],
)
def test_code_without_literal_secrets_is_left_alone(text: str) -> None:
    assert scrub(text, "") == (text, "", 0)


def test_a_secret_in_the_suffix_is_scrubbed() -> None:
    _, suffix, count = scrub("x = 1\n", "\nAWS_SECRET = 'AKIAIOSFODNN7EXAMPLF'\n")
    assert "AKIAIOSFODNN7EXAMPLF" not in suffix and count == 1


def test_the_cursor_inside_a_private_key_scrubs_both_sides() -> None:
    prefix = "pem = '''-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\nAAAA"
    suffix = "BBBBCCCC\nDDDD\n-----END OPENSSH PRIVATE KEY-----'''\nprint(pem)\n"
    new_prefix, new_suffix, count = scrub(prefix, suffix)
    assert new_prefix == "pem = '''" + PLACEHOLDER
    assert new_suffix == PLACEHOLDER + "'''\nprint(pem)\n"
    assert count == 1


def test_the_cursor_inside_a_quoted_secret_scrubs_both_sides() -> None:
    new_prefix, new_suffix, count = scrub('db_password = "hunt', 'er2"\nconnect()\n')
    assert new_prefix == 'db_password = "' + PLACEHOLDER
    assert new_suffix == '"\nconnect()\n'
    assert count == 1


def test_scrubbing_never_joins_prefix_and_suffix() -> None:
    prefix = "a = 'ghp_" + "x" * 36 + "'\n"
    new_prefix, new_suffix, _ = scrub(prefix, "b = 2\n")
    assert new_suffix == "b = 2\n"
    assert new_prefix == f"a = '{PLACEHOLDER}'\n"


def test_placeholders_are_recognised_in_completions() -> None:
    assert reinserts_placeholder(f" = '{PLACEHOLDER}'")
    assert reinserts_placeholder("'<redacted")
    assert not reinserts_placeholder("return a + b")


def test_scrubbing_is_on_for_remote_engines_and_off_locally_by_default() -> None:
    assert ScrubOptions().applies(remote_engine=True)
    assert not ScrubOptions().applies(remote_engine=False)
    assert ScrubOptions(local=True).applies(remote_engine=False)
    assert not ScrubOptions(remote=False).applies(remote_engine=True)

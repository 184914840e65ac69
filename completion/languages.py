"""Which tree-sitter grammar a document uses, from its languageId or file name.

Shared by context cutting, post-processing and the testbed's hole cutter.
Grammars come from ``tree-sitter-language-pack`` below 1.0, which bundles the
compiled grammars in its wheel (1.x downloads them at run time, which fails
offline). Unknown languages get ``None`` and fall back to text rules.
"""

from __future__ import annotations

import functools
import logging
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Language, Parser

log = logging.getLogger(__name__)

# LSP languageIds (as editors send them) to grammar names in the language pack.
_GRAMMAR_BY_LANGUAGE_ID: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "javascriptreact": "javascript",
    "typescript": "typescript",
    "typescriptreact": "tsx",
    "tsx": "tsx",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "c",
    "cpp": "cpp",
    "cuda": "cpp",
    "csharp": "csharp",
    "ruby": "ruby",
    "php": "php",
    "lua": "lua",
    "shellscript": "bash",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "html": "html",
    "css": "css",
    "scss": "scss",
    "json": "json",
    "jsonc": "json",
    "yaml": "yaml",
    "toml": "toml",
    "markdown": "markdown",
    "kotlin": "kotlin",
    "swift": "swift",
    "scala": "scala",
    "sql": "sql",
}

# File extensions to the languageId an editor would send (the headless
# ``complete`` command has only the file name); the grammar follows from it.
_LANGUAGE_ID_BY_EXTENSION: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".cu": "cuda",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".lua": "lua",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".zsh": "zsh",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".scss": "scss",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".md": "markdown",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".sql": "sql",
}

# Data formats and prose: no code to complete inside their strings.
NON_CODE_GRAMMARS = frozenset({"json", "yaml", "toml", "markdown", "html", "css", "scss"})


def grammar_for(language_id: str | None, file_name: str | None = None) -> str | None:
    """The grammar name for a document, by languageId first and extension second."""
    if language_id:
        grammar = _GRAMMAR_BY_LANGUAGE_ID.get(language_id.lower())
        if grammar:
            return grammar
    if file_name:
        return _GRAMMAR_BY_LANGUAGE_ID.get(language_id_for(file_name))
    return None


def language_id_for(file_name: str) -> str:
    """The languageId for a file name, by its extension; '' when unknown."""
    suffix = PurePosixPath(file_name.replace("\\", "/")).suffix.lower()
    return _LANGUAGE_ID_BY_EXTENSION.get(suffix, "")


# A line comment in each language: file-path headers, ours and other files'.
_HASH = "# {path}\n"
_SLASH = "// {path}\n"
_DASH = "-- {path}\n"
_COMMENT_FORMS: dict[str, str] = {
    **dict.fromkeys(("python", "ruby", "bash", "yaml", "toml"), _HASH),
    **dict.fromkeys(("javascript", "typescript", "tsx", "go", "rust", "java", "c"), _SLASH),
    **dict.fromkeys(("cpp", "csharp", "php", "kotlin", "swift", "scala", "scss"), _SLASH),
    **dict.fromkeys(("lua", "sql", "haskell"), _DASH),
    "css": "/* {path} */\n",
    "html": "<!-- {path} -->\n",
    "markdown": "<!-- {path} -->\n",
    **dict.fromkeys(
        ("perl", "r", "elixir", "dockerfile", "makefile", "powershell", "julia", "nim"), _HASH
    ),
    **dict.fromkeys(("dart", "zig", "groovy", "objective-c", "fsharp"), _SLASH),
    **dict.fromkeys(("clojure", "lisp", "scheme"), ";; {path}\n"),
    **dict.fromkeys(("erlang", "latex", "tex", "matlab"), "% {path}\n"),
}


def path_comment(path: str, grammar: str | None, language_id: str = "") -> str:
    """``path`` as a line comment in the language (``# a.py``, ``// b.ts``), or ''
    where there is no comment syntax (JSON) or the language is unknown."""
    form = _COMMENT_FORMS.get(grammar or "") or _COMMENT_FORMS.get(language_id.lower())
    if form is None or "\n" in path:
        return ""
    return form.replace("{path}", path)


@functools.cache
def language(grammar: str) -> Language | None:
    """The compiled grammar, or ``None`` (logged once) when the pack lacks it."""
    try:
        from tree_sitter_language_pack import get_language

        return get_language(grammar)  # type: ignore[arg-type]
    except Exception:  # the pack raises LookupError or its own errors
        log.warning("no tree-sitter grammar for %r; using text rules", grammar)
        return None


def parser(grammar: str) -> Parser | None:
    """A fresh parser for ``grammar``; parsers hold state, so callers own theirs."""
    compiled = language(grammar)
    if compiled is None:
        return None
    from tree_sitter import Parser

    return Parser(compiled)

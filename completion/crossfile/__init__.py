"""Cross-file context: snippets of other workspace files for the prompt's head.

Sits beside ``completion.context``: the pipeline asks a ``CrossFileProvider``
(``provider``) for snippets, and renders them in DeepSeek Coder's repository
format (``snippet.render_block``) before the current file. Each source is a
small module with its own options: ``open_files`` (neighbouring tabs ranked by
identifier similarity), ``imports`` (definitions the file imports, through the
per-workspace ``index``) and ``recent`` (a ring buffer of edited and viewed
chunks). docs/context.md has the rules.

This package imports nothing from ``completion.context`` at import time, so
that module can hold its options.
"""

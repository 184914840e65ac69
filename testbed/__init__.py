"""Headless completion testbed: score a model and a config on real code.

Drives the real server over stdio (``testbed.client``), the same path editors
use, on HumanEval infilling problems (``testbed.humaneval``) or on holes cut
from a local repository with tree-sitter (``testbed.holes``); scores the
answers (``testbed.scoring``, ``testbed.sandbox``) and writes a report
(``testbed.report``) that ``testbed.compare`` can set side by side.
"""

"""The tiny model's training data matches the prompts the server sends."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from completion.prompt import build_prompt, get_template

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from make_test_model import make_holes, prompt_of, training_texts


def test_typed_region_pairs_are_the_servers_prompt_and_the_rest_of_the_middle() -> None:
    holes = make_holes(7, 400)
    pairs = training_texts(holes, random.Random(3), 0.25)
    regions = 0
    for hole, (prompt, middle) in zip(holes, pairs, strict=True):
        assert middle == hole.middle
        if prompt == prompt_of(hole):
            continue
        regions += 1
        typed = prompt[prompt.rindex("<｜fim▁end｜>") + len("<｜fim▁end｜>") :]
        assert "\n" in typed  # the region spans lines
        sent = build_prompt(
            get_template("deepseek"),
            hole.prefix,
            hole.suffix,
            line_in_middle=True,
            middle_start=typed,
        )
        # Typed text that ends in indentation must be tokenized at the end of
        # the prompt, as sent, not joined to the rest of the middle.
        assert sent.text == prompt
    assert 60 <= regions <= 140

"""Holding back automatic suggestions in contexts whose acceptance is near zero."""

from __future__ import annotations

from typing import Any

from completion.acceptance import AcceptanceEvent, AcceptanceTracker
from completion.suppression import Suppression, SuppressionOptions


def tracked(**options: Any) -> tuple[AcceptanceTracker, Suppression]:
    settings = SuppressionOptions(**options)
    suppression = Suppression(lambda: settings)
    return AcceptanceTracker(suppression=suppression), suppression


def show(tracker: AcceptanceTracker, language: str, text: str = "x", accept: bool = False) -> None:
    [item] = tracker.offer("file:///a", language, [text])
    tracker.shown(item)
    if accept:
        tracker.accepted(item)


def test_a_context_is_held_back_only_after_enough_rejected_suggestions() -> None:
    tracker, suppression = tracked(min_shown=5, probe_every=1000)
    for _ in range(4):
        show(tracker, "markdown")
    assert not suppression.holds_back("markdown", False)
    show(tracker, "markdown")
    assert suppression.holds_back("markdown", False)
    assert not suppression.holds_back("markdown", True)  # a block is another context
    assert not suppression.holds_back("python", False)
    snapshot = suppression.snapshot()
    assert snapshot["heldBack"] == 1
    [markdown] = snapshot["contexts"]
    assert markdown["language"] == "markdown" and markdown["lines"] == "single"
    assert markdown["holding"] is True


def test_accepted_and_partly_accepted_suggestions_keep_a_context_running() -> None:
    tracker, suppression = tracked(min_shown=5, threshold=0.1)
    for index in range(20):
        show(tracker, "python", accept=index % 5 == 0)
    assert not suppression.holds_back("python", False)
    [item] = tracker.offer("file:///a", "go", ["abc"])
    tracker.partially_accepted(item, 2)
    for _ in range(6):
        show(tracker, "go")  # the first of these decides the partial one
    [go] = [c for c in suppression.snapshot()["contexts"] if c["language"] == "go"]
    assert go["rate"] > 0.1
    assert not suppression.holds_back("go", False)


def test_probes_let_a_context_recover_and_old_outcomes_fade() -> None:
    tracker, suppression = tracked(min_shown=5, probe_every=3, half_life=5)
    for _ in range(10):
        show(tracker, "yaml")
    decisions = [suppression.holds_back("yaml", False) for _ in range(6)]
    assert decisions == [True, True, False, True, True, False]  # every third runs
    for _ in range(5):
        show(tracker, "yaml", accept=True)  # what the probes showed was taken
    assert not suppression.holds_back("yaml", False)


def test_disabled_never_holds_back() -> None:
    tracker, suppression = tracked(enabled=False, min_shown=1)
    for _ in range(5):
        show(tracker, "json")
    assert not suppression.holds_back("json", False)
    assert suppression.snapshot()["enabled"] is False


def test_the_request_decides_the_context_not_the_answers_shape() -> None:
    tracker, suppression = tracked(min_shown=3, probe_every=1000)
    for _ in range(3):
        [item] = tracker.offer("file:///a", "python", ["one line"], block=True)
        tracker.shown(item)  # a block was asked for; one line came back
    assert suppression.holds_back("python", True)
    assert not suppression.holds_back("python", False)
    assert tracker.snapshot()["acceptanceByLines"]["single"]["shown"] == 3  # as the user saw it


def test_outcomes_restored_from_a_past_session_hold_a_context_back() -> None:
    settings = SuppressionOptions(min_shown=3, probe_every=1000)
    suppression = Suppression(lambda: settings)
    past = [AcceptanceEvent("shown", "python", False, block=False) for _ in range(3)]
    past.append(AcceptanceEvent("accepted", "python", False, 12, block=False))
    # Multi-line answers to one-line requests: the request's kind is the context.
    past += [AcceptanceEvent("shown", "go", True, block=False) for _ in range(3)]
    assert suppression.restore(past) == 7
    assert not suppression.holds_back("python", False)
    assert suppression.holds_back("go", False)
    assert not suppression.holds_back("go", True)

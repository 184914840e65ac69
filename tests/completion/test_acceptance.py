"""The outcome of each shown suggestion: accepted, partly accepted or rejected."""

from __future__ import annotations

from completion.acceptance import AcceptanceEvent, AcceptanceTracker, utf16_length

URI = "file:///a.py"


def tracker() -> tuple[AcceptanceTracker, list[AcceptanceEvent]]:
    events: list[AcceptanceEvent] = []
    return AcceptanceTracker(sink=events.append), events


def test_accepting_counts_shown_accepted_and_the_chars() -> None:
    acceptance, events = tracker()
    [item] = acceptance.offer(URI, "python", ["return a + b"])
    assert acceptance.shown(item)
    assert acceptance.accepted(item)
    snapshot = acceptance.snapshot()
    assert snapshot["shown"] == 1
    assert snapshot["accepted"] == 1
    assert snapshot["acceptedChars"] == len("return a + b")
    assert snapshot["rejected"] == 0
    assert snapshot["acceptanceRate"] == 1.0
    assert snapshot["acceptanceByLanguage"]["python"]["accepted"] == 1
    assert snapshot["acceptanceByLines"]["single"]["shown"] == 1
    assert snapshot["acceptanceByLines"]["multi"]["shown"] == 0
    assert [event.kind for event in events] == ["shown", "accepted"]


def test_an_accept_without_a_show_signal_counts_as_shown_too() -> None:
    # Neovim 0.12's built-in client runs the command but sends no didShow.
    acceptance, _ = tracker()
    [item] = acceptance.offer(URI, "python", ["x\ny"])
    assert acceptance.accepted(item)
    snapshot = acceptance.snapshot()
    assert (snapshot["shown"], snapshot["accepted"]) == (1, 1)
    assert snapshot["acceptanceByLines"]["multi"]["accepted"] == 1


def test_a_shown_suggestion_superseded_by_a_newer_one_is_rejected() -> None:
    acceptance, _ = tracker()
    [first] = acceptance.offer(URI, "python", ["one"])
    [second] = acceptance.offer(URI, "python", ["two"])
    acceptance.shown(first)
    acceptance.shown(second)
    snapshot = acceptance.snapshot()
    assert (snapshot["shown"], snapshot["rejected"], snapshot["accepted"]) == (2, 1, 0)
    assert snapshot["acceptanceRate"] == 0.0


def test_another_document_does_not_reject() -> None:
    acceptance, _ = tracker()
    [first] = acceptance.offer(URI, "python", ["one"])
    [other] = acceptance.offer("file:///b.py", "python", ["two"])
    acceptance.shown(first)
    acceptance.shown(other)
    assert acceptance.snapshot()["rejected"] == 0


def test_cycling_alternatives_is_not_a_rejection() -> None:
    acceptance, _ = tracker()
    ids = acceptance.offer(URI, "python", ["a", "bb", "ccc"])
    for item in ids:
        acceptance.shown(item)
    acceptance.accepted(ids[2])
    snapshot = acceptance.snapshot()
    assert (snapshot["shown"], snapshot["accepted"], snapshot["rejected"]) == (1, 1, 0)
    assert snapshot["acceptedChars"] == 3


def test_partial_accepts_count_once_with_the_most_accepted() -> None:
    acceptance, _ = tracker()
    [item] = acceptance.offer(URI, "python", ["first second third"])
    acceptance.shown(item)
    acceptance.partially_accepted(item, 6)
    acceptance.partially_accepted(item, 13)
    [later] = acceptance.offer(URI, "python", ["next"])
    acceptance.shown(later)
    snapshot = acceptance.snapshot()
    assert snapshot["partiallyAccepted"] == 1
    assert snapshot["acceptedChars"] == 13
    assert snapshot["rejected"] == 0


def test_partial_then_the_rest_is_one_accept_of_the_whole_length() -> None:
    acceptance, _ = tracker()
    [item] = acceptance.offer(URI, "python", ["first second"])
    acceptance.partially_accepted(item, 6)
    acceptance.accepted(item)
    snapshot = acceptance.snapshot()
    assert (snapshot["accepted"], snapshot["partiallyAccepted"]) == (1, 0)
    assert snapshot["acceptedChars"] == len("first second")


def test_accepted_length_is_clamped_to_the_item() -> None:
    acceptance, _ = tracker()
    [item] = acceptance.offer(URI, "python", ["ab"])
    acceptance.partially_accepted(item, 99)
    acceptance.finish()
    assert acceptance.snapshot()["acceptedChars"] == 2


def test_lengths_are_utf16_code_units() -> None:
    assert utf16_length("a😀é") == 4
    acceptance, _ = tracker()
    [item] = acceptance.offer(URI, "python", ["😀"])
    acceptance.accepted(item)
    assert acceptance.snapshot()["acceptedChars"] == 2


def test_unknown_ids_and_second_accepts_are_ignored() -> None:
    acceptance, _ = tracker()
    assert not acceptance.accepted("nope")
    assert not acceptance.shown("nope")
    [item] = acceptance.offer(URI, "python", ["a"])
    assert acceptance.accepted(item)
    assert not acceptance.accepted(item)
    assert acceptance.snapshot()["accepted"] == 1


def test_finish_rejects_what_is_still_shown() -> None:
    acceptance, events = tracker()
    [item] = acceptance.offer(URI, "python", ["a"])
    acceptance.shown(item)
    acceptance.finish()
    assert acceptance.snapshot()["rejected"] == 1
    assert events[-1].kind == "rejected"


def test_offered_but_never_shown_counts_nothing() -> None:
    acceptance, events = tracker()
    acceptance.offer(URI, "python", ["a"])
    acceptance.finish()
    assert acceptance.snapshot()["shown"] == 0
    assert events == []

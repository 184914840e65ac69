"""Distinct alternatives for an explicit request, with an early stop."""

from __future__ import annotations

import asyncio

from completion.alternatives import collect_alternatives
from completion.pipeline import Completion


def answer(text: str) -> Completion:
    return Completion(text=text, start=0, end=0)


def run(first: str, samples: list[str], count: int = 3) -> tuple[list[str], list[int]]:
    seeds: list[int] = []

    async def sample(seed: int) -> Completion:
        seeds.append(seed)
        return answer(samples[seed - 1] if seed <= len(samples) else first)

    results = asyncio.run(collect_alternatives(answer(first), count, sample))
    return [result.text for result in results], seeds


def test_distinct_samples_follow_the_first_answer() -> None:
    texts, seeds = run("a + b", ["a - b", "a + b ", "b + a"])
    assert texts == ["a + b", "a - b", "b + a"]  # "a + b " is the first, give or take spaces
    assert seeds == [1, 2, 3]


def test_two_tries_in_a_row_with_nothing_new_stop_sampling() -> None:
    texts, seeds = run("x", ["x", "", "y"])
    assert texts == ["x"]
    assert seeds == [1, 2]


def test_never_more_than_count_and_at_most_twice_count_tries() -> None:
    texts, _ = run("1", ["2", "3", "4", "5"], count=2)
    assert texts == ["1", "2"]
    # Single repeats do not stop it.
    texts, seeds = run("1", ["1", "2", "2", "3", "3", "4"], count=4)
    assert texts == ["1", "2", "3", "4"]
    assert seeds == [1, 2, 3, 4, 5, 6]
    texts, seeds = run("1", ["2", "1", "3", "1", "4", "1", "5", "1"], count=6)
    assert texts == ["1", "2", "3", "4", "5"]
    assert seeds == list(range(1, 10))  # the 8th and 9th repeat: stop


def test_an_empty_first_answer_is_left_out() -> None:
    texts, _ = run("", ["p", "q"], count=2)
    assert texts == ["p", "q"]


def run_many(
    first: str, choices: list[str], samples: list[str], count: int = 3
) -> tuple[list[str], list[tuple[int, int]], list[int]]:
    """Alternatives from an engine whose call with ``n`` returns ``choices``."""
    calls: list[tuple[int, int]] = []
    seeds: list[int] = []

    async def sample_many(n: int, seed: int) -> list[Completion]:
        calls.append((n, seed))
        return [answer(text) for text in choices]

    async def sample(seed: int) -> Completion:
        seeds.append(seed)
        return answer(samples[seed - 2] if seed - 2 < len(samples) else first)

    results = asyncio.run(collect_alternatives(answer(first), count, sample, sample_many))
    return [result.text for result in results], calls, seeds


def test_a_server_that_honours_n_is_asked_once_and_its_choices_deduplicated() -> None:
    texts, calls, seeds = run_many("a + b", ["a + b ", "a - b", "a - b", "b + a"], [])
    assert texts == ["a + b", "a - b", "b + a"]
    assert calls == [(3, 1)]  # count choices for count - 1 places
    assert seeds == []


def test_choices_that_bring_nothing_new_end_it_all_the_same() -> None:
    texts, calls, seeds = run_many("x", ["x", "x", ""], ["y"])
    assert texts == ["x"]
    assert calls == [(3, 1)] and seeds == []  # one call with n is the whole budget


def test_one_choice_back_means_n_was_ignored_and_sampling_goes_on_one_at_a_time() -> None:
    texts, calls, seeds = run_many("x", ["y"], ["z", "x", "x"])
    assert texts == ["x", "y", "z"]
    assert calls == [(3, 1)]
    assert seeds == [2]  # the next seed after the batch's

"""The blind vote's tally (core/arena.py): Elo ratings and per-pair wins, kept in the data folder."""

from __future__ import annotations

import json

import pytest

from playground.core import arena, paths
from playground.core.errors import InputError


def test_a_win_moves_both_ratings_by_the_same_amount_and_a_tie_between_equals_moves_none():
    ra, rb = arena.record("m/one", "m/two", "a")
    assert ra == pytest.approx(1016.0) and rb == pytest.approx(984.0)  # K/2 from equal ratings
    arena.record("m/three", "m/four", "tie")
    assert arena.rating("m/three") == pytest.approx(1000.0) == arena.rating("m/four")
    assert arena.standings()[0] == ("m/one", pytest.approx(1016.0))


def test_an_upset_moves_ratings_more_than_an_expected_win():
    for _ in range(5):
        arena.record("strong", "weak", "a")
    before = arena.rating("weak")
    arena.record("strong", "weak", "b")  # the weak model wins
    gain = arena.rating("weak") - before
    assert gain > 16.0  # more than a win between equals


def test_the_pair_tally_reads_from_either_side_and_lives_in_the_data_folder():
    arena.record("zeta", "alpha", "a")
    arena.record("alpha", "zeta", "a")
    arena.record("alpha", "zeta", "a")
    arena.record("zeta", "alpha", "tie")
    t = arena.pair_tally("zeta", "alpha")
    assert (t.first_wins, t.second_wins, t.ties, t.games) == (1, 2, 1, 4)
    t = arena.pair_tally("alpha", "zeta")
    assert (t.first_wins, t.second_wins) == (2, 1)
    saved = json.loads((paths.data_dir() / "arena.json").read_text())
    assert set(saved) == {"ratings", "pairs"} and len(saved["pairs"]) == 1


@pytest.mark.parametrize(("a", "b", "outcome"), [("x", "x", "a"), ("x", "", "a"), ("x", "y", "left")])
def test_bad_votes_are_refused(a, b, outcome):
    with pytest.raises(InputError):
        arena.record(a, b, outcome)


def test_a_damaged_tally_starts_again_instead_of_failing():
    (paths.data_dir() / "arena.json").write_text("[not json")
    assert arena.rating("anything") == arena.START_RATING
    arena.record("p", "q", "a")
    assert arena.pair_tally("p", "q").first_wins == 1

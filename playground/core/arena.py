"""Blind chat votes: two models answer the same prompt anonymously, the person picks the better one
(or a tie), and a local tally keeps each pair's wins and ties and each model's Elo rating.

The tally lives in the data folder (`arena.json`), written atomically, so it survives restarts and
a crash never leaves half a file. Ratings use the standard Elo update (start 1000, K = 32), as
LMSYS's Chatbot Arena first did: a win against a higher-rated model moves a rating more.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

from playground.core import paths
from playground.core.atomic import write_text
from playground.core.errors import InputError

FILE_NAME = "arena.json"
START_RATING = 1000.0
K = 32.0
OUTCOMES = ("a", "b", "tie")  # the first model won, the second won, or neither

_lock = threading.Lock()


@dataclass(frozen=True)
class PairTally:
    first: str
    second: str
    first_wins: int
    second_wins: int
    ties: int

    @property
    def games(self) -> int:
        return self.first_wins + self.second_wins + self.ties


def tally_path() -> Path:
    return paths.data_dir() / FILE_NAME


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"ratings": {}, "pairs": {}}
    if not isinstance(data, dict):
        return {"ratings": {}, "pairs": {}}
    data.setdefault("ratings", {})
    data.setdefault("pairs", {})
    return data


def _pair_key(a: str, b: str) -> tuple[str, bool]:
    """The pair's key (the two ids in sorted order) and whether `a` comes second in it."""
    first, second = sorted((a, b))
    return json.dumps([first, second]), a != first


def expected(rating: float, other: float) -> float:
    return 1.0 / (1.0 + 10 ** ((other - rating) / 400.0))


def record(a: str, b: str, outcome: str, path: Path | None = None) -> tuple[float, float]:
    """Count one vote between models `a` and `b`; returns their new ratings."""
    if outcome not in OUTCOMES:
        raise InputError(f"Unknown vote '{outcome}': use one of {', '.join(OUTCOMES)}.")
    if not a or not b or a == b:
        raise InputError("A blind vote needs two different models.")
    path = path or tally_path()
    with _lock:
        data = _load(path)
        ratings = data["ratings"]
        ra, rb = float(ratings.get(a, START_RATING)), float(ratings.get(b, START_RATING))
        score = {"a": 1.0, "b": 0.0, "tie": 0.5}[outcome]
        ratings[a] = ra + K * (score - expected(ra, rb))
        ratings[b] = rb + K * ((1.0 - score) - expected(rb, ra))
        key, swapped = _pair_key(a, b)
        pair = data["pairs"].setdefault(key, {"first_wins": 0, "second_wins": 0, "ties": 0})
        if outcome == "tie":
            pair["ties"] += 1
        else:
            first_won = (outcome == "a") != swapped
            pair["first_wins" if first_won else "second_wins"] += 1
        write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return ratings[a], ratings[b]


def pair_tally(a: str, b: str, path: Path | None = None) -> PairTally:
    """The votes between `a` and `b`, from `a`'s side (`first` is `a`)."""
    data = _load(path or tally_path())
    key, swapped = _pair_key(a, b)
    pair = data["pairs"].get(key, {})
    wins = (int(pair.get("first_wins", 0)), int(pair.get("second_wins", 0)))
    if swapped:
        wins = wins[::-1]
    return PairTally(a, b, wins[0], wins[1], int(pair.get("ties", 0)))


def rating(model: str, path: Path | None = None) -> float:
    return float(_load(path or tally_path())["ratings"].get(model, START_RATING))


def standings(path: Path | None = None) -> list[tuple[str, float]]:
    """Every voted model and its rating, best first."""
    ratings = _load(path or tally_path())["ratings"]
    return sorted(((m, float(r)) for m, r in ratings.items()), key=lambda x: -x[1])

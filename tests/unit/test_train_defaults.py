"""One place for the training jobs' defaults: the jobs' configs and `playground finetune` read
core.training.defaults (the Train tab's side: tests/gui/test_train_tab.py)."""

from __future__ import annotations

import pytest

from playground import cli
from playground.core.training import defaults
from playground.core.training.common import make_config


@pytest.mark.parametrize("kind", defaults.KINDS)
def test_the_cli_offers_the_jobs_defaults(kind):
    d = defaults.for_kind(kind)
    args = cli.parse_args(["finetune", kind, "data"])
    length = args.steps if d.by_steps else args.epochs
    assert (length, args.batch_size, args.lr) == (d.length, d.batch_size, d.lr)
    assert args.val_share is None and args.patience is None  # left to the job, which takes d's


@pytest.mark.parametrize("kind", defaults.KINDS)
def test_a_jobs_config_takes_its_defaults_and_an_option_given_as_none_keeps_them(kind):
    d = defaults.for_kind(kind)
    cfg = make_config("x", **defaults.config_options(kind, {"lr": None, "batch_size": 3}))
    assert (cfg.lr, cfg.batch_size, cfg.patience, cfg.val_share, cfg.warmup) == \
        (d.lr, 3, d.patience, d.val_share, d.warmup)
    if not d.by_steps:
        assert cfg.epochs == d.length


def test_the_text_classifier_trains_as_long_in_the_app_as_on_the_command_line():
    assert cli.parse_args(["finetune", "text", "t.csv"]).epochs == defaults.for_kind("text").length == 4
    with pytest.raises(ValueError, match="unknown training kind"):
        defaults.for_kind("audio")

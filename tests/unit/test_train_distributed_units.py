"""Data-parallel pieces without a launch: batch plans, per-rank shares, events from JSON lines,
the launch commands printed for a cluster, the control file, the worker's command line."""

from __future__ import annotations

import json

import pytest

from playground.core.training import distributed, launch
from playground.core.training import events as ev


def test_the_global_batch_is_kept_and_split_across_ranks():
    assert distributed.batch_plan(32, 1) == (32, 32, 1.0)
    assert distributed.batch_plan(32, 2) == (16, 32, 1.0)
    per, eff, scale = distributed.batch_plan(10, 4)  # uneven: reported, and the rate follows linearly
    assert (per, eff) == (3, 12) and scale == pytest.approx(1.2)
    for n in (7, 63, 64, 65, 320):
        assert distributed.rank_steps(n, 32, 2) == distributed.rank_steps(n, 32, 1) == -(-n // 32)


def test_two_ranks_batches_together_are_the_one_process_batches():
    """A DistributedSampler per rank, re-seeded per epoch: rank 0 + rank 1's batch b == one process's batch b."""
    from playground.core.training.loop import TrainSpec

    class S(TrainSpec):
        seed = 3
        batch_size = 8

    def batches(rank, world, epoch):
        s = S()
        s.rank, s.world_size = rank, world
        s.steps_per_epoch = distributed.rank_steps(40, 8, world)
        return s.rank_batches(list(range(100, 140)), epoch)

    one = batches(0, 1, 2)
    r0, r1 = batches(0, 2, 2), batches(1, 2, 2)
    assert len(one) == len(r0) == len(r1) == 5
    for b in range(5):
        assert sorted(r0[b] + r1[b]) == sorted(one[b]) and not set(r0[b]) & set(r1[b])
    assert batches(0, 1, 3) != one  # another epoch, another order
    assert distributed.shard(list(range(7)), 1, 2) == [1, 3, 5]


def test_ranks_from_the_launchers_environment():
    r = distributed.from_env({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"})
    assert (r.rank, r.local_rank, r.world_size, r.active, r.main) == (3, 1, 4, True, False)
    assert distributed.from_env({}) == distributed.Ranks() and not distributed.Ranks().active


def test_json_lines_become_engine_events_again():
    start = ev.RunStarted("text-generation", "/o", "cpu", 2, 20, 40, 0, None, world_size=2, backend="gloo")
    back = launch.event_from_json(json.loads(json.dumps(start.to_dict() | {"world_size": 2})))
    assert back == start
    step = launch.event_from_json({"type": "step", "step": 3, "epoch": 1, "loss": None, "lr": 1e-3,
                                   "samples_per_s": 5.0, "world_size": 2, "unknown": 1})
    assert isinstance(step, ev.StepEvent) and step.step == 3 and step.loss != step.loss  # null -> NaN
    done = launch.event_from_json({"type": "done", "model_dir": "/o", "task": "text-generation", "name": "o",
                                   "loss": 1.5, "world_size": 2})
    assert done.loss == 1.5 and done.world_size == 2
    assert launch.event_from_json({"type": "cancelled"}) is None


def test_print_launch_gives_torchrun_accelerate_and_sbatch(tmp_path, capsys):
    from playground import cli

    data = tmp_path / "photos"
    data.mkdir()
    code = cli.main(["finetune", "image", str(data), "--epochs", "5", "--head-only", "--nproc", "4", "--nnodes", "2",
                     "--node-rank", "1", "--master-addr", "10.0.0.7", "--master-port", "29400", "--print-launch",
                     "--json"])
    assert code == 0
    found = json.loads(capsys.readouterr().out)
    tr = found["torchrun"]
    assert tr.startswith("torchrun --nnodes 2 --node-rank 1 --nproc-per-node 4 --master-addr 10.0.0.7 "
                         "--master-port 29400 -m playground finetune image ")
    assert "--epochs 5" in tr and "--head-only" in tr and "--nproc " not in tr and "--print-launch" not in tr
    acc = found["accelerate"]
    assert acc.startswith("accelerate launch --multi_gpu ") and "--num_processes 8" in acc and "--machine_rank 1" in acc
    assert "--main_process_ip 10.0.0.7" in acc and "-m playground finetune image" in acc
    sb = found["sbatch"]
    assert sb.startswith("#!/bin/bash") and "#SBATCH --nodes=2" in sb and "srun torchrun" in sb
    assert '--node-rank "$SLURM_NODEID"' in sb and "--nproc-per-node 4" in sb
    # plain text too
    assert cli.main(["finetune", "charlm", str(data), "--nproc", "2", "--print-launch"]) == 0
    text = capsys.readouterr().out
    assert "# torchrun" in text and "# accelerate launch" in text and "#SBATCH" in text


def test_launch_options_are_checked(tmp_path, capsys):
    from playground import cli

    assert cli.main(["finetune", "charlm", str(tmp_path / "t.txt"), "--nproc", "0"]) == 2
    assert cli.main(["finetune", "charlm", str(tmp_path / "t.txt"), "--nnodes", "2", "--node-rank", "2"]) == 2
    capsys.readouterr()


def test_the_tabs_options_become_the_workers_command_line():
    argv = launch.worker_command("image", "/d", None, {"name": "cats", "resume": True, "epochs": 3, "batch_size": 32,
                                                      "head_only": True, "image_size": 64, "control": object(),
                                                      "event_interval": 0.05, "device": "cpu", "lr": 0.001,
                                                      "text_column": None})
    assert argv[:4] == ["finetune", "image", "/d", "--json"]
    joined = " ".join(argv)
    assert "--name cats" in joined and "--resume" in argv and "--head-only" in argv and "--image-size 64" in joined
    assert "control" not in joined and "event" not in joined and "--device" not in joined


def test_the_control_file_pauses_and_cancels(tmp_path):
    path = tmp_path / "control"
    distributed.write_control(path, "run")
    c = distributed.FileControl(path)
    assert not c.paused and not c.cancel_requested
    c._checked = -1.0
    distributed.write_control(path, "pause")
    c._checked = -1.0
    assert c.paused
    distributed.write_control(path, "cancel")
    c._checked = -1.0
    assert c.cancel_requested and not c.paused


def test_process_slots_need_no_torch(monkeypatch):
    import os

    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    assert distributed.local_slots("cpu") == 6
    assert distributed.local_slots("auto") >= 1


def test_the_ranks_validation_shares_cover_the_whole_set_once():
    """Each rank evaluates every N-th validation example; their sums (all-reduced) are the whole set's."""
    val = list(range(50, 83))
    for world in (1, 2, 3, 4):
        parts = [distributed.shard(val, r, world) for r in range(world)]
        assert sorted(x for part in parts for x in part) == val

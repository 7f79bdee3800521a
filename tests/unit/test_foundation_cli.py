"""The headless CLI: version, devices, models, errors and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from playground import __version__, cli


def run_cli(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "playground", *args], capture_output=True, text=True,
                          timeout=120, env=full_env)


def test_version():
    out = run_cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"playground {__version__}"


def test_devices_json(capsys):
    assert cli.main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and data
    cpu = data[-1]
    assert cpu["type"] == "cpu" and cpu["name"] and cpu["memory_total"] > 0


def test_models_json_lists_bundled_models_available(capsys):
    assert cli.main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    available = {(m["task"], m["source"]) for m in data if m["available"]}
    for task in ("image-classification", "speech-recognition", "text-embedding"):
        assert (task, "bundled") in available
    assert all({"id", "task", "source", "available"} <= m.keys() for m in data)


def test_usage_error_is_one_line_and_exit_2():
    out = run_cli("models", "--no-such-flag")
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "unrecognized arguments" in out.stderr


def test_failure_is_one_line_and_exit_1(capsys, monkeypatch):
    from playground.core import devices

    monkeypatch.setattr(devices, "_preference", "auto")  # cli.run sets it; keep other tests clean
    code = cli.main(["--device", "tpu", "devices"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == ["playground: error: Unknown device 'tpu': use one of auto, cpu, cuda, mps."]


def test_unknown_task_is_a_usage_error(capsys):
    assert cli.main(["models", "--task", "nope"]) == 2
    assert "unknown task 'nope'" in capsys.readouterr().err

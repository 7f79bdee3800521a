"""Device choice with and without CUDA (CUDA mocked: no GPU here)."""

from __future__ import annotations

import os
from unittest import mock

import pytest
import torch

from playground.core import devices
from playground.core.errors import DeviceError


@pytest.fixture(autouse=True)
def reset_preference():
    yield
    devices.set_preference("auto")


def no_mps():
    return mock.patch.object(devices, "_mps_available", return_value=False)


def test_cpu_when_cuda_absent():
    with mock.patch.object(torch.cuda, "is_available", return_value=False), no_mps():
        assert devices.choose_device("auto") == "cpu"
        assert devices.dtype_for("cpu") == torch.float32
        found = devices.list_devices()
    assert [d.type for d in found] == ["cpu"]
    assert found[0].memory_total and found[0].memory_total > 0
    assert found[0].dtype == "float32"


def test_cuda_requested_but_absent_is_a_clear_error():
    with mock.patch.object(torch.cuda, "is_available", return_value=False):
        with pytest.raises(DeviceError, match="no CUDA GPU"):
            devices.choose_device("cuda")


def test_unknown_device_name():
    with pytest.raises(DeviceError, match="Unknown device 'tpu'"):
        devices.choose_device("tpu")


def fake_cuda(bf16: bool):
    patches = [
        mock.patch.object(torch.cuda, "is_available", return_value=True),
        mock.patch.object(torch.cuda, "device_count", return_value=1),
        mock.patch.object(torch.cuda, "get_device_name", return_value="NVIDIA Test GPU"),
        mock.patch.object(torch.cuda, "mem_get_info", return_value=(6 * 1024**3, 8 * 1024**3)),
        mock.patch.object(torch.cuda, "is_bf16_supported", return_value=bf16),
    ]
    return patches


def test_cuda_preferred_and_reported_when_present():
    patches = fake_cuda(bf16=True)
    for p in patches:
        p.start()
    try:
        with no_mps():
            assert devices.choose_device("auto") == "cuda:0"
            assert devices.dtype_for("cuda:0") == torch.bfloat16
            assert devices.dtype_for("cuda:0", allow_half=False) == torch.float32
            found = devices.list_devices()
            rep = devices.report(preference="auto")
    finally:
        for p in patches:
            p.stop()
    gpu = found[0]
    assert (gpu.type, gpu.name, gpu.memory_total, gpu.memory_free) == ("cuda", "NVIDIA Test GPU", 8 * 1024**3, 6 * 1024**3)
    assert gpu.torch_device == "cuda:0"
    assert rep.chosen.type == "cuda"


def test_fp16_on_gpus_without_bf16():
    patches = fake_cuda(bf16=False)
    for p in patches:
        p.start()
    try:
        assert devices.dtype_for("cuda:0") == torch.float16
    finally:
        for p in patches:
            p.stop()


def test_user_override_wins_over_auto():
    patches = fake_cuda(bf16=True)
    for p in patches:
        p.start()
    try:
        devices.set_preference("cpu")
        assert devices.choose_device() == "cpu"
    finally:
        for p in patches:
            p.stop()


RACE_SCRIPT = r'''
import sys, time
from PySide6.QtCore import QCoreApplication, QTimer
from playground.core.jobs import Job
from playground.worker import Lanes

app = QCoreApplication([])
assert "torch" not in sys.modules


def import_torch_then_fail(ctx):
    import torch  # noqa: F401
    raise ValueError("the image lane's own error")


def fail_while_torch_is_half_imported(ctx):
    # Fails exactly while the other lane is inside `import torch` (the race of issue 20).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        module = sys.modules.get("torch")
        if module is not None and getattr(module.__spec__, "_initializing", False):
            print("seen half imported", flush=True)
            raise ValueError("the speech lane's own error")
        time.sleep(0.0002)
    raise ValueError("torch was never seen half imported")


lanes = Lanes()
errors = {}
pending = {"image", "speech"}
for lane, fn in (("speech", fail_while_torch_is_half_imported), ("image", import_torch_then_fail)):
    handle = lanes.submit(Job(fn, name=lane), lane)
    handle.error.connect(lambda msg, lane=lane: errors.__setitem__(lane, msg))
    handle.finished.connect(lambda lane=lane: (pending.discard(lane), not pending and app.quit()))
QTimer.singleShot(180_000, app.quit)
app.exec()
lanes.shutdown(timeout=5.0)
for lane in ("image", "speech"):
    print(f"{lane}: {errors.get(lane)}", flush=True)
'''


def test_two_lanes_failing_while_torch_imports_keep_their_own_errors(tmp_path):
    """A job that fails while another lane is still importing torch reports its own error, not
    "partially initialized module 'torch' has no attribute 'cuda'" (issue 20: a broken .wav opened
    with a photo showed that). Runs in a fresh interpreter: torch must be imported there first."""
    import subprocess
    import sys

    script = tmp_path / "race.py"
    script.write_text(RACE_SCRIPT)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "seen half imported" in out.stdout, out.stdout + out.stderr[-2000:]
    assert "image: ValueError: the image lane's own error" in out.stdout, out.stdout
    assert "speech: ValueError: the speech lane's own error" in out.stdout, out.stdout


def test_imported_ignores_a_half_imported_module(monkeypatch):
    import sys
    import types

    half = types.ModuleType("half_built")
    half.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "half_built", half)
    assert devices.imported("half_built") is None
    half.__spec__._initializing = False
    assert devices.imported("half_built") is half
    assert devices.imported("never_imported_module_xyz") is None
    assert devices.is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert not devices.is_out_of_memory(ValueError("no"))

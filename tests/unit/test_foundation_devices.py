"""Device choice with and without CUDA (CUDA mocked: no GPU here)."""

from __future__ import annotations

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

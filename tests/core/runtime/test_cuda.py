"""`--device cuda` end to end: run with `pytest -m cuda` on a machine with an NVIDIA GPU; skipped elsewhere.

benchmarks/gpu_check.sh runs these first. On CUDA a run is not bit-for-bit repeatable (cuDNN picks its
algorithms), so these check what must hold anyway: the device is used, a model trained there is an
ordinary model on the CPU, a resumed run continues where it stopped.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
import torch

from cnncli.core.modelfile import runs
from cnncli.core.runtime.device import amp_dtype, resolve_device

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU (CUDA)"),
]

# 2,000 training images at batch 200: 10 steps an epoch
QUICK = ["--dataset", "mnist-sample", "--model", "tiny", "--batch-size", "200", "--device", "cuda"]


def _train(cnn, tmp_path: Path, *args: str, name: str):
    return cnn("train", *QUICK, "--out", str(tmp_path / "runs"), "--name", name, *args, "--json", timeout=300)


def test_cuda_resolves_and_autocasts_in_bfloat16_where_the_gpu_has_it():
    device = resolve_device("cuda")
    assert device.type == "cuda" and device.index == 0
    assert resolve_device(f"cuda:{torch.cuda.device_count() - 1}").type == "cuda"
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    assert amp_dtype(device, "auto") is expected
    assert amp_dtype(device, "off") is None


@pytest.mark.parametrize("amp", ["--amp", "--no-amp"])
def test_a_model_trained_on_the_gpu_scores_the_same_on_the_cpu(cnn, tmp_path, amp):
    if amp == "--amp" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bfloat16")
    run = _train(cnn, tmp_path, "--epochs", "3", amp, name="gpu")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert doc["device"].startswith("cuda") and doc["steps"] == 30
    assert (doc["amp"] == "bfloat16") == (amp == "--amp")
    on_cpu = cnn("eval", doc["model"], "--device", "cpu", "--json", timeout=300)
    assert on_cpu.exit_code == 0, on_cpu.stderr
    # the same weights in float32 on the CPU: equal up to the GPU's rounding (bf16 autocast moves a few images)
    tolerance = 0.01 if amp == "--amp" else 0.002
    assert abs(on_cpu.json()["accuracy"] - doc["best"]["test_accuracy"]) <= tolerance


def test_a_run_stopped_mid_epoch_on_the_gpu_resumes_to_the_end(cnn, tmp_path):
    first = _train(cnn, tmp_path, "--epochs", "3", "--max-steps", "15", name="split")
    assert first.exit_code == 0, first.stderr
    state = tomllib.loads((tmp_path / "runs" / "split" / "state.toml").read_text())["state"]
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (1, 5, 15)
    resumed = cnn("train", "--resume", str(tmp_path / "runs" / "split"), "--json", timeout=300)
    assert resumed.exit_code == 0, resumed.stderr
    doc = resumed.json()
    assert doc["steps"] == 30 and doc["epochs_run"] == 3 and doc["device"].startswith("cuda")
    rows = [json.loads(r) for r in (tmp_path / "runs" / "split" / runs.METRICS).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]

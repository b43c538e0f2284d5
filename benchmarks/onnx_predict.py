"""The ONNX path against the torch path, as whole processes, interleaved run by run.

    python benchmarks/onnx_predict.py [--model FILE.safetensors] [--raw-dir ../shared/datasets/mnist]
                                      [--count 10000] [--repeat 5]

With no --model it trains `fast` on MNIST for one epoch in a temporary folder; the model is then
exported beside itself (`cnn export`) unless an up-to-date export is already there. Figures:
  predict one PNG   `cnn predict digit.png` wall time, --engine torch against the default (ONNX):
                    medians of --repeat runs, taken in turns (torch, onnx, torch, ...) so that load
                    from other work on the machine falls on both alike, and the median of the per-pair
                    ratios
  eval              `cnn eval` on MNIST's test split: images/s of the pass over the split (the command's
                    own figure) and the whole command's wall time, both engines
  predict many      `cnn predict FOLDER --jsonl` on --count PNG files: wall time and images/s
Prints the CPU's flags and the versions. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from predict_throughput import write_images
from trained import train_fast_mnist

REPO = Path(__file__).resolve().parents[1]
CNN = [sys.executable, "-m", "cnncli"]
FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def run(arguments: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([*CNN, *arguments], env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def interleaved(torch_args: list[str], onnx_args: list[str], repeat: int, env: dict[str, str]) -> dict:
    torch_times, onnx_times = [], []
    for _ in range(repeat):
        torch_times.append(run(torch_args, env)[0])
        onnx_times.append(run(onnx_args, env)[0])
    ratios = [o / t for o, t in zip(onnx_times, torch_times, strict=True)]
    return {
        "torch": statistics.median(torch_times),
        "onnx": statistics.median(onnx_times),
        "ratio": statistics.median(ratios),
    }


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    present = set(line.split(":", 1)[-1].split())
    return " ".join(flag for flag in FLAGS if flag in present) or "none of " + ", ".join(FLAGS)


def versions() -> str:
    found = {name: metadata.version(name) for name in ("torch", "onnxruntime", "onnx", "numpy", "pillow")}
    return f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in found.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained MNIST .safetensors model (default: train one)")
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}); flags: {cpu_flags()}")
    print(versions())
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        env = {**os.environ, "NO_COLOR": "1", "CNN_DATA_DIR": str(work / "data")}
        model = args.model or train_fast_mnist(args.raw_dir, work)
        onnx_file = model.with_suffix(".onnx")
        folder = work / "images"
        write_images(args.raw_dir, work, folder, args.count, photos=False)
        digit = str(sorted(folder.iterdir())[0])
        check = subprocess.run([*CNN, "predict", digit, "--model", str(model), "-v", "-q"], env=env, text=True,
                               capture_output=True)  # fmt: skip
        if not onnx_file.exists() or "stale" in check.stderr:
            print(f"exporting: {run(['export', str(model), '-q'], env)[0]:.1f} s (whole process)")
        one = ["predict", digit, "--model", str(model), "--jsonl", "-q"]
        single = interleaved([*one, "--engine", "torch"], one, args.repeat, env)
        print(f"\ncnn predict digit.png, medians of {args.repeat} interleaved whole-process runs:")
        print(f"  torch {single['torch']:6.2f} s   onnx {single['onnx']:6.2f} s   onnx/torch {single['ratio']:.2f}x")
        print(f"\ncnn eval on MNIST's test split (10,000 images), medians of {args.repeat}:")
        for name, target, extra in (("torch", str(model), ["--engine", "torch"]), ("onnx", str(onnx_file), [])):
            runs = [run(["eval", target, "--json", "-q", *extra], env) for _ in range(args.repeat)]
            rate = statistics.median(json.loads(out)["images_per_second"] for _, out in runs)
            wall = statistics.median(seconds for seconds, _ in runs)
            print(f"  {name:5s} {rate:9,.0f} images/s in the pass   {wall:6.2f} s whole command")
        many = ["predict", str(folder), "--model", str(model), "--jsonl", "-q"]
        repeat = max(1, args.repeat // 2)
        both = interleaved([*many, "--engine", "torch"], many, repeat, env)
        print(f"\ncnn predict on {args.count:,} PNG files, medians of {repeat} interleaved runs:")
        for name in ("torch", "onnx"):
            print(f"  {name:5s} {both[name]:6.2f} s   {args.count / both[name]:7,.0f} images/s end to end")
        print(f"  onnx/torch {both['ratio']:.2f}x")


if __name__ == "__main__":
    main()

"""Start-up time of `cnn summary MODEL.safetensors` next to `python -c "import torch"`.

`cnn summary` on a model file reads only the safetensors header and never imports torch, so it should
take a fraction of torch's import time. Each command runs in a fresh interpreter; the medians print
as one JSON line, along with each built-in architecture's parameters and MACs.

    python benchmarks/summary_startup.py --runs 9
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.arch.cost import summarise
from cnncli.core.modelfile.metadata import ArchitectureInfo, DatasetRecord, ModelMetadata, Preprocessing
from cnncli.core.modelfile.weights import save_model
from cnncli.core.nn.build import build_model


def _median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _save_tutorial(folder: Path) -> Path:
    arch = ARCHITECTURES["tutorial"]
    metadata = ModelMetadata(
        architecture=ArchitectureInfo(arch.spec, arch.name),
        input_shape=(1, 28, 28),
        classes=tuple(str(i) for i in range(10)),
        preprocessing=Preprocessing(1, (28, 28), (0.1307,), (0.3081,), "mnist"),
        dataset=DatasetRecord("mnist", "sha256:unknown"),
    )
    model = build_model(arch.layers, metadata.input_shape, metadata.num_classes, arch.spec)
    return save_model(folder / "model.safetensors", model, metadata)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    figures = {}
    for name, arch in ARCHITECTURES.items():
        model = build_model(arch.layers, arch.input_shape, 10, arch.spec)
        totals = summarise(model.report).totals
        figures[name] = {"params": totals.trainable_params, "macs": totals.macs}
    with tempfile.TemporaryDirectory() as folder:
        path = _save_tutorial(Path(folder))
        summary = _median_seconds([sys.executable, "-m", "cnncli", "summary", str(path), "--json"], args.runs)
        summary_name = _median_seconds([sys.executable, "-m", "cnncli", "summary", "tutorial", "--json"], args.runs)
    torch_import = _median_seconds([sys.executable, "-c", "import torch"], args.runs)
    bare = _median_seconds([sys.executable, "-c", "pass"], args.runs)
    print(
        json.dumps(
            {
                "architectures": figures,
                "runs": args.runs,
                "median_s": {
                    "cnn summary FILE": round(summary, 3),
                    "cnn summary tutorial": round(summary_name, 3),
                    "python -c 'import torch'": round(torch_import, 3),
                    "python -c 'pass'": round(bare, 3),
                },
            }
        )
    )


if __name__ == "__main__":
    main()

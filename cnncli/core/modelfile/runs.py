"""Run folders and the `latest` pointer.

    runs/
      latest                 the name of the newest run (a one-line text file, replaced atomically)
      lean-mnist-1/
        config.toml          the effective configuration
        state.safetensors    the training state for --resume (+ state.toml for people)
        best.safetensors     the model with the best selection accuracy (+ best.toml)
        last.safetensors     the model after the last epoch (+ last.toml)
        metrics.jsonl        one JSON object per epoch
        curves.png           loss and accuracy per epoch (with the plot extra)

A run folder is created with os.mkdir, so two runs never share one and nothing is silently
overwritten. Pure Python: `cnn eval` and `cnn predict` resolve models through here before importing torch.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from cnncli.core.atomic import TEMP_PREFIX, atomic_write_text
from cnncli.core.data.catalog import FOLDER_PREFIX
from cnncli.core.errors import FileWriteError, NotFound, UsageError
from cnncli.core.naming import slug

LATEST = "latest"
CONFIG = "config.toml"
STATE = "state.safetensors"
BEST = "best.safetensors"
LAST = "last.safetensors"
METRICS = "metrics.jsonl"
CURVES = "curves.png"
LOCK = ".lock"  # held (flock) by the process training the run; the kernel drops it when that process dies


def default_name(model: str, dataset: str) -> str:
    """lean-mnist, or spec-mnist for a spec string, or lean-digits for folder:path/to/digits."""
    model_part = model if re.fullmatch(r"[A-Za-z0-9_-]+", model) else "spec"
    dataset_part = Path(dataset.removeprefix(FOLDER_PREFIX)).name if dataset.startswith(FOLDER_PREFIX) else dataset
    return f"{slug(model_part, 'run', limit=40)}-{slug(dataset_part, 'run', limit=40)}"


def create_run_dir(out: str | Path, name: str, explicit: bool) -> Path:
    """A new, empty run folder. An explicit name that exists is an error; a default name is numbered."""
    root = Path(out)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot create the runs folder {root}: {exc.strerror}") from exc
    candidates = [name] if explicit else [f"{name}-{n}" for n in range(1, 10000)]
    for candidate in candidates:
        folder = root / candidate
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise FileWriteError(f"cannot create the run folder {folder}: {exc.strerror}") from exc
        return folder
    raise UsageError(
        f"the run folder {root / name} already exists",
        f"continue it with: cnn train --resume {root / name}; or choose another --name",
    )


@contextlib.contextmanager
def claim(run_dir: Path, sweep: bool = False) -> Iterator[None]:
    """Hold the run's lock while training it: a second `cnn train --resume` of the same run is refused.

    `sweep`: remove the temporary files a killed trainer left (only the lock's holder writes here).
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): no guard, as before
        yield
        return
    try:
        handle = open(run_dir / LOCK, "a")  # noqa: SIM115  (held open until the run ends)
    except OSError as exc:
        raise FileWriteError(f"cannot write in the run folder {run_dir}: {exc.strerror}") from exc
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(
                f"{run_dir} is being trained by another cnn train right now",
                "wait for it to finish or stop it (Ctrl-C saves); two trainers would overwrite each other",
            ) from None
        if sweep:
            for leftover in run_dir.glob(TEMP_PREFIX + "*"):
                with contextlib.suppress(OSError):
                    leftover.unlink()
        yield


def discard_new_run(run_dir: Path) -> None:
    """Remove a run folder made moments ago that never trained: its few files (config, metrics, lock, temporaries),
    then the folder, so a failed start leaves the runs folder as it was. Anything else found there stays."""
    for name in (CONFIG, METRICS, LOCK):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink()
    for leftover in run_dir.glob(TEMP_PREFIX + "*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def set_latest(run_dir: Path) -> None:
    atomic_write_text(run_dir.parent / LATEST, run_dir.name + "\n")


def latest_run(out: str | Path = "runs") -> Path:
    """The run folder that `runs/latest` names."""
    pointer = Path(out) / LATEST
    if not pointer.is_file():
        raise NotFound(
            f"no trained model yet: {pointer} does not exist",
            "train one with: cnn train; or name a model file or run folder",
        )
    name = pointer.read_text(encoding="utf-8").strip()
    run_dir = Path(out) / name
    if not name or os.sep in name or not run_dir.is_dir():
        raise NotFound(
            f"{pointer} names {name!r}, which is not a run folder in {out}", "name a model file or run folder instead"
        )
    return run_dir

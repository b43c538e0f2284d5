"""Every command that exists (download, train, summary, shapes) with every option given nonsense: an exit
code and a one-line `error:` (with a `hint:` where there is one), never a traceback. The whole table runs
in-process; a representative row of each kind runs as the real program, which also shows Click's own
usage errors in the one-line form.

Paths: {file} a regular file (holding bad TOML), {under} a path under that file (unwritable for anyone,
root included), {dir} an empty folder, {missing} nothing.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from cnncli.core.errors import ExitCode as X

QUICK = "--dataset mnist-sample --model tiny --batch-size 200 --threads 1 --max-steps 1"
HUGE = "1" + "0" * 30
INF_DIGITS = "9" * 400  # a duration past the largest float

TABLE: list[tuple[str, int, str | None]] = [
    # download
    ("download nosuch", X.NOT_FOUND, "unknown dataset 'nosuch'"),
    ('download ""', X.NOT_FOUND, "unknown dataset ''"),
    ("download", X.USAGE, None),
    ("download --list mnist", X.USAGE, "takes no names"),
    ("download mnist --timeout 0", X.USAGE, None),
    ("download mnist --timeout -1", X.USAGE, None),
    ("download mnist --timeout inf", X.USAGE, None),
    ("download mnist --timeout nan", X.USAGE, None),
    ("download mnist --timeout abc", X.USAGE, None),
    ("download mnist --retries -1", X.USAGE, None),
    ("download mnist --retries 1000", X.USAGE, None),
    ("download mnist --retries x", X.USAGE, None),
    ("download mnist --mirror ftp://x/", X.USAGE, "not an http(s) URL"),
    ('download mnist --mirror "http://[::1"', X.USAGE, "not an http(s) URL"),
    ("download mnist --mirror http://h:99999/", X.USAGE, "not an http(s) URL"),
    ("download mnist --data-dir {under} --mirror http://127.0.0.1:9/ --retries 0", X.IO, "Not a directory"),
    ("download mnist --from {file}", X.NOT_FOUND, "no folder"),
    ("download mnist --from {missing}", X.NOT_FOUND, "no folder"),
    ("download mnist --from {dir}", X.NOT_FOUND, "not in"),
    ("download mnist --from {dir} --mirror http://h/", X.USAGE, "give one of the two"),
    # train: numbers out of range, of the wrong type, not finite, past 64 bits
    ("train --epochs 0", X.USAGE, "epochs must be at least 1"),
    ("train --epochs -1", X.USAGE, "epochs must be at least 1"),
    (f"train --epochs {HUGE}", X.USAGE, "epochs must be at most"),
    ("train --epochs x", X.USAGE, None),
    ("train --batch-size 0", X.USAGE, "batch size must be at least 1"),
    ("train --batch-size 1000000000", X.USAGE, "larger than the training data"),
    ("train --lr 0", X.USAGE, "must be positive"),
    ("train --lr -1", X.USAGE, "must be positive"),
    ("train --lr 1e300", X.USAGE, "must be positive and at most 1000"),
    ("train --lr inf", X.USAGE, "lr must be a finite number"),
    ("train --lr nan", X.USAGE, "lr must be a finite number"),
    ("train --lr x", X.USAGE, None),
    ("train --warmup 1", X.USAGE, "warmup must be a fraction"),
    ("train --warmup nan", X.USAGE, "warmup must be a finite number"),
    ("train --weight-decay -1", X.USAGE, "weight decay must be from 0 to 1000"),
    ("train --weight-decay 1e300", X.USAGE, "weight decay must be from 0 to 1000"),
    ("train --weight-decay inf", X.USAGE, "weight decay must be a finite number"),
    ("train --label-smoothing 1", X.USAGE, "label smoothing must be in"),
    ("train --val-split 1", X.USAGE, "validation split must be a fraction"),
    ("train --val-split -0.5", X.USAGE, "validation split must be a fraction"),
    ("train --seed -1", X.USAGE, "seed must be at least 0"),
    (f"train --seed {HUGE}", X.USAGE, "seed must be at most"),
    ("train --device gpu", X.USAGE, "device must be auto, cpu"),
    ("train --device cuda:x", X.USAGE, "device must be auto, cpu"),
    ("train --threads -1", X.USAGE, "threads must be from 0 to 1024"),
    ("train --threads 1000000", X.USAGE, "threads must be from 0 to 1024"),
    ("train --patience -1", X.USAGE, "patience must be at least 0"),
    ("train --max-time soon", X.USAGE, "a duration is a number"),
    ("train --max-time -5", X.USAGE, "a duration is a number"),
    (f"train --max-time {INF_DIGITS}", X.USAGE, "max time must be a finite number"),
    ("train --max-steps -1", X.USAGE, "max steps must be at least 0"),
    ("train --checkpoint-minutes -1", X.USAGE, "checkpoint minutes must be at least 0"),
    ("train --checkpoint-minutes nan", X.USAGE, "checkpoint minutes must be a finite number"),
    ("train --nproc 0", X.USAGE, "--nproc must be from 1 to"),
    ("train --nproc 100000", X.USAGE, "--nproc must be from 1 to"),
    ("train --optimizer adagrad", X.USAGE, "optimizer must be one of"),
    ("train --schedule x", X.USAGE, "schedule must be one of"),
    # train: names, models and datasets that are not
    ("train --name ../x", X.USAGE, "a run name is letters"),
    ('train --name "a b"', X.USAGE, "a run name is letters"),
    ("train --model nosuch", X.NOT_FOUND, "neither a built-in architecture nor a spec"),
    ('train --model ""', X.BAD_INPUT, "an empty spec"),
    ('train --model "conv(99999999999, 3) fc(classes)"', X.USAGE, "training this network needs at least"),
    ('train --model "[relu]x99999999 fc(classes)"', X.BAD_INPUT, "more than 10,000"),
    ('train --model "' + "[" * 40 + "relu" + "]" * 40 + '"', X.BAD_INPUT, "blocks nest more than 32 deep"),
    ("train --dataset nosuch", X.NOT_FOUND, "unknown dataset 'nosuch'"),
    ("train --dataset folder:", X.USAGE, "folder: needs a path"),
    ("train --dataset folder:{missing}", X.NOT_FOUND, "no folder"),
    ("train --dataset folder:{file}", X.NOT_FOUND, "no folder"),
    ("train --dataset folder:{dir}", X.BAD_INPUT, "a classifier needs at least two"),
    ("train --dataset mnist --offline --data-dir {under}", X.NOT_FOUND, "offline: nothing is downloaded"),
    # train: files and folders where they should not be
    ("train --out {under}", X.IO, "cannot create the runs folder"),
    ("train --out {file}", X.IO, "cannot create the runs folder"),
    ("train --config {missing}", X.NOT_FOUND, "no config file"),
    ("train --config {dir}", X.NOT_FOUND, "no config file"),
    ("train --config {file}", X.BAD_INPUT, "is not valid TOML"),
    ("train --resume {missing}", X.NOT_FOUND, "is not a run folder"),
    ("train --resume {file}", X.NOT_FOUND, "is not a run folder"),
    ("train --resume {dir}", X.NOT_FOUND, "is not a run folder"),
    ("train --resume {dir} --config {file}", X.USAGE, "drop --config"),
    # summary
    ("summary {missing}.safetensors", X.NOT_FOUND, "no model file"),
    ("summary {dir}", X.NOT_FOUND, "holds no model"),
    ("summary {file}", X.BAD_INPUT, "too short for a safetensors header"),
    ('summary ""', X.BAD_INPUT, "an empty spec"),
    ("summary nosuch", X.NOT_FOUND, "neither a built-in architecture nor a spec"),
    ("summary tiny --batch-size 0", X.USAGE, None),
    ("summary tiny --depth 0", X.USAGE, None),
    ("summary tiny --classes 0", X.USAGE, None),
    ("summary tiny --input 0", X.USAGE, "--input must be at least 1"),
    ("summary tiny --input x", X.USAGE, "--input must be N or HxW or CxHxW"),
    ("summary tiny --input 1x2x3x4", X.USAGE, "--input must be N or HxW or CxHxW"),
    ('summary "[relu]x99999999 fc(classes)"', X.BAD_INPUT, "more than 10,000"),
    # shapes
    ("shapes", X.USAGE, None),
    ("shapes nosuch", X.NOT_FOUND, "neither a built-in architecture nor a spec"),
    ("shapes --input 0 --kernel 3", X.USAGE, "--input must be at least 1"),
    ("shapes --input x --kernel 3", X.USAGE, "--input must be N or HxW"),
    ("shapes --input 28 --kernel 0", X.USAGE, "--kernel must be at least 1"),
    ("shapes --input 28 --kernel 3 --stride 0", X.USAGE, "--stride must be at least 1"),
    ("shapes --input 28 --kernel 3 --padding -1", X.USAGE, "--padding must be N or HxW"),
    ("shapes --input 28 --kernel 3 --dilation 0", X.USAGE, "--dilation must be at least 1"),
    ("shapes --input 28 --kernel 3 --channels x", X.USAGE, "--channels must be IN:OUT"),
    (f"shapes --input 28 --kernel {HUGE}", X.BAD_INPUT, "leaves no pixels"),
    ("shapes --input 28 --kernel 3 --pool nope", X.USAGE, None),
    ("shapes tiny --classes 0", X.USAGE, None),
]

# one row of each kind through the real program: Click's errors, ours, each exit code
REAL = [
    "download mnist --timeout inf",
    'download mnist --mirror "http://[::1"',
    "download mnist --data-dir {under} --mirror http://127.0.0.1:9/ --retries 0",
    f"train --seed {HUGE}",
    "train --epochs x",
    'train --model "conv(99999999999, 3) fc(classes)"',
    "train --out {under}",
    "train --config {file}",
    "train --resume {file}",
    "summary {file}",
    "shapes --input 28 --kernel 3 --stride 0",
]


@pytest.fixture
def places(tmp_path) -> dict[str, str]:
    (tmp_path / "afile").write_text("x = [")
    (tmp_path / "adir").mkdir()
    return {
        "{file}": str(tmp_path / "afile"),
        "{under}": str(tmp_path / "afile" / "sub"),
        "{dir}": str(tmp_path / "adir"),
        "{missing}": str(tmp_path / "nothing"),
    }


def _args(row: str, places: dict[str, str], tmp_path: Path) -> list[str]:
    args = shlex.split(row)
    for key, value in places.items():
        args = [a.replace(key, value) for a in args]
    if args[0] == "train" and "--resume" not in args:  # anything that gets past the checks trains 1 step
        args = [args[0], *shlex.split(QUICK), "--out", str(tmp_path / "runs"), *args[1:]]
    return args


def _one_error(stderr: str) -> None:
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and len([line for line in lines if line.startswith("hint: ")]) <= 1, stderr


@pytest.mark.parametrize(("row", "code", "words"), TABLE, ids=[row for row, _, _ in TABLE])
def test_nonsense_is_an_exit_code_and_one_line(cli, places, tmp_path, row, code, words):
    run = cli(*_args(row, places, tmp_path))
    assert run.exit_code == code, run.stderr
    assert run.stdout == ""
    if words is None:  # Click's own usage error: in-process it is Click's box; the real program is below
        assert "Traceback" not in run.stderr
        return
    _one_error(run.stderr)
    assert words in run.stderr, run.stderr


@pytest.mark.parametrize("row", REAL)
def test_the_real_program_says_it_in_one_line(cnn, places, tmp_path, row):
    code = next(c for r, c, _ in TABLE if r == row)
    run = cnn(*_args(row, places, tmp_path), timeout=120)
    assert run.exit_code == code, run.stderr
    assert run.stdout == ""
    _one_error(run.stderr)
    assert run.stderr.startswith("error: ") or "\nerror: " in run.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_output_folder_is_exit_9(cli, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        run = cli("train", *shlex.split(QUICK), "--out", str(locked))
        assert run.exit_code == X.IO and "permission denied" in run.stderr.lower()
    finally:
        locked.chmod(0o700)

"""`cnn eval` and `cnn predict` given nonsense: every option out of range, of the wrong type or past 64
bits, models and datasets that are not, and files and folders where they should not be. Each row is an
exit code and a one-line `error:` (with at most one `hint:`), never a traceback, and nothing on stdout.
(The images themselves, damaged, truncated or bombs, are in test_predict_images.py and test_cli_predict.py.)

Paths: {model} a trained model file, {file} a regular file (not a model), {under} a path under that file,
{dir} an empty folder, {missing} nothing, {png} a real 28 x 28 PNG.
"""

from __future__ import annotations

import shlex

import pytest

from cnncli.core.errors import ExitCode as X
from tests.hostile.test_cli import HUGE, _one_error

TABLE: list[tuple[str, int, str | None]] = [
    # eval: models that are not
    ("eval {missing}.safetensors", X.NOT_FOUND, "no model file"),
    ('eval ""', X.USAGE, "the model name is empty"),
    ("eval {dir}", X.NOT_FOUND, "holds no model"),
    ("eval {file}", X.BAD_INPUT, "too short for a safetensors header"),
    # eval: numbers out of range or of the wrong type (None: Click's own error, its box in-process)
    ("eval {model} --batch-size 0", X.USAGE, None),
    ("eval {model} --batch-size -1", X.USAGE, None),
    ("eval {model} --batch-size x", X.USAGE, None),
    ("eval {model} --top-k 0", X.USAGE, None),
    ("eval {model} --top-k 1.5", X.USAGE, None),
    ("eval {model} --errors-count 0", X.USAGE, None),
    # eval: datasets, splits and devices that are not
    ("eval {model} --dataset nosuch", X.NOT_FOUND, "unknown dataset 'nosuch'"),
    ("eval {model} --dataset folder:", X.USAGE, "folder: needs a path"),
    ("eval {model} --dataset folder:{missing}", X.NOT_FOUND, "no folder"),
    ("eval {model} --dataset folder:{dir}", X.BAD_INPUT, "a classifier needs at least two"),
    ("eval {model} --dataset mnist --offline --data-dir {under}", X.NOT_FOUND, "offline: nothing is downloaded"),
    ("eval {model} --dataset fashion-mnist --offline --data-dir {dir}", X.NOT_FOUND, "offline"),
    ("eval {model} --split nosuch", X.USAGE, "unknown split 'nosuch'"),
    ("eval {model} --device gpu", X.USAGE, "unknown device 'gpu'"),
    ("eval {model} --device cuda:x", X.USAGE, "unknown device 'cuda:x'"),
    # eval: output paths that cannot be, refused before the evaluation starts
    ("eval {model} --errors {file}", X.USAGE, "is a file, not a folder"),
    ("eval {model} --errors {under}", X.IO, "Not a directory"),
    # predict: models that are not
    ("predict {png} --model {missing}", X.NOT_FOUND, "no model file or run folder"),
    ('predict {png} --model ""', X.USAGE, "the model name is empty"),
    ("predict {png} --model {dir}", X.NOT_FOUND, "holds no model"),
    ("predict {png} --model {file}", X.BAD_INPUT, "too short for a safetensors header"),
    # predict: numbers out of range or of the wrong type
    ("predict {png} --model {model} --top-k 0", X.USAGE, None),
    ("predict {png} --model {model} --batch-size 0", X.USAGE, None),
    ("predict {png} --model {model} --workers -1", X.USAGE, None),
    ("predict {png} --model {model} --workers 65", X.USAGE, "--workers must be from 0 to 64"),
    (f"predict {{png}} --model {{model}} --workers {HUGE}", X.USAGE, "--workers must be from 0 to 64"),
    ("predict {png} --model {model} --device gpu", X.USAGE, "unknown device 'gpu'"),
    ("predict {png} --model {model} --json --jsonl", X.USAGE, "give one"),
    ("predict - - --model {model}", X.USAGE, "can be given once"),
    # predict: names that are no image, each reported; only failures is exit 3
    ("predict {missing} --model {model}", X.BAD_INPUT, "no image could be predicted"),
    ('predict "" --model {model}', X.BAD_INPUT, "no image could be predicted"),
    ("predict {dir} --model {model}", X.BAD_INPUT, "no image could be predicted"),
    ("predict {file} --model {model}", X.BAD_INPUT, "no image could be predicted"),
    ('predict "{dir}/[" --model {model}', X.BAD_INPUT, "no image could be predicted"),
    ("predict - --model {model}", X.BAD_INPUT, "no image could be predicted"),
]

# one row of each kind through the real program
REAL = [
    "eval {file}",
    "eval {model} --batch-size x",
    "predict {png} --model {model} --workers -1",
    "eval {model} --errors {file}",
    f"predict {{png}} --model {{model}} --workers {HUGE}",
    "predict {file} --model {model}",
]


@pytest.fixture
def places(tmp_path, sample_model) -> dict[str, str]:
    from PIL import Image

    (tmp_path / "afile").write_text("x = [")
    (tmp_path / "adir").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    return {
        "{model}": str(sample_model.model),
        "{file}": str(tmp_path / "afile"),
        "{under}": str(tmp_path / "afile" / "sub"),
        "{dir}": str(tmp_path / "adir"),
        "{missing}": str(tmp_path / "nothing"),
        "{png}": str(tmp_path / "digit.png"),
    }


def _args(row: str, places: dict[str, str]) -> list[str]:
    args = shlex.split(row)
    for key, value in places.items():
        args = [a.replace(key, value) for a in args]
    return args


def _check(run, code: int, words: str | None) -> None:
    assert run.exit_code == code, run.stderr
    assert run.stdout == ""
    _one_error(run.stderr)
    assert "evaluating" not in run.stderr, "refused only after the work was done"
    if words is not None:
        assert words in run.stderr, run.stderr


@pytest.mark.parametrize(("row", "code", "words"), TABLE, ids=[row for row, _, _ in TABLE])
def test_nonsense_is_an_exit_code_and_one_line(cli, places, row, code, words):
    run = cli(*_args(row, places), input=b"")
    if words is None:  # Click's own usage error: its box in-process; the real program's line is below
        assert run.exit_code == code and run.stdout == "" and "Traceback" not in run.stderr
        return
    _check(run, code, words)


@pytest.mark.parametrize("row", REAL)
def test_the_real_program_says_it_in_one_line(cnn, places, row):
    code, words = next((c, w) for r, c, w in TABLE if r == row)
    run = cnn(*_args(row, places), timeout=120)
    _check(run, code, words)


def test_a_batch_past_64_bits_is_the_whole_input_at_once(cli, places):
    """Larger than the inputs is the same batch: eval and predict both take it rather than crash."""
    predict = cli("predict", places["{png}"], "--model", places["{model}"], "--batch-size", HUGE, "--json")
    assert predict.exit_code == 0, predict.stderr
    assert len(predict.json()) == 1
    evaluate = cli("eval", places["{model}"], "--batch-size", HUGE, "--json")
    assert evaluate.exit_code == 0, evaluate.stderr
    assert evaluate.json()["count"] == 500

"""The README's table of model references, walked through every command it names: each "yes" works, each "no"
is refused with an error, never a traceback."""

from __future__ import annotations

import re
import shutil

import pytest

from cnncli.core.modelfile import pretrained
from tests.conftest import REPO

IMAGE = str(REPO / "examples" / "digit-7.png")
COMMANDS = ("predict", "eval", "summary", "init", "resume")


def readme_table() -> list[dict[str, str]]:
    text = (REPO / "README.md").read_text()
    section = text.split("## Model references", 1)[1]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:2] == ["form", "example"] and len(header) == 2 + len(COMMANDS), header
    rows = []
    for line in lines[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != len(header):
            break  # the next table
        rows.append(dict(zip(("form", "example", *COMMANDS), cells, strict=True)))
    return rows


def _argv(command: str, reference: str | None, out: str) -> list[str]:
    given = [reference] if reference is not None else []
    if command == "predict":
        return ["predict", IMAGE, *(["--model", reference] if reference else []), "--json", "-q"]
    if command == "eval":
        return ["eval", *given, "--dataset", "mnist-sample", "--json", "-q"]
    if command == "summary":
        return ["summary", *given, "--json"]
    if command == "init":
        return ["train", "--dataset", "mnist-sample", "--max-steps", "1", "--out", out, "--json", "-q"]
    return ["train", "--epochs", "4", "--json", "-q"]  # resume: one more epoch than the fixture's three


def test_the_table_names_every_form():
    forms = [row["form"] for row in readme_table()]
    assert len(forms) == 6 and forms[-1] == "nothing"
    assert any(f"`{pretrained.PREFIX}mnist`" in row["example"] for row in readme_table())


@pytest.mark.slow
def test_every_cell_of_the_readme_table_holds(cli, sample_model, tmp_path, monkeypatch):
    runs_dir = tmp_path / "runs"
    shutil.copytree(sample_model.run.parent, runs_dir)
    name = sample_model.run.name
    monkeypatch.chdir(tmp_path)
    for row in readme_table():
        match = re.search(r"`([^`]+)`", row["example"])
        reference = match.group(1).replace("runs/lean-mnist-1", f"runs/{name}") if match else None
        for command in COMMANDS:
            argv = _argv(command, reference, str(tmp_path / "new-runs"))
            if command == "init":
                if reference is None:
                    continue  # --init without a model is not a form
                argv += ["--init", reference]
            if command == "resume":
                if reference is None:
                    continue
                argv += ["--resume", reference]
            run = cli(*argv)
            wanted = row[command] != "no"
            assert (run.exit_code == 0) == wanted, (row["form"], command, run.exit_code, run.stderr[-600:])
            if not wanted:
                assert run.stderr.startswith("error: ") or "Usage:" in run.stderr, run.stderr
            assert "Traceback" not in run.stderr
        shutil.rmtree(runs_dir)
        shutil.copytree(sample_model.run.parent, runs_dir)  # a fresh copy: resume changed this one

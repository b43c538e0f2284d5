"""What ships is what scripts/make_pretrained.py's recipe made: the accuracy its metadata claims, the recipe it
records, the default recipe of `cnn train` but for what the script sets (the architecture, seed and hold-out)."""

from __future__ import annotations

import importlib.util

import pytest

from cnncli.core.modelfile import pretrained
from cnncli.core.modelfile.header import read_model_header
from cnncli.core.training.config import TrainConfig
from tests.conftest import REPO
from tests.support.models import make_present


def _script():
    spec = importlib.util.spec_from_file_location("make_pretrained", REPO / "scripts" / "make_pretrained.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(pretrained.BUNDLED))
def test_the_recorded_recipe_is_the_scripts_and_the_default(name):
    script, model = _script(), pretrained.BUNDLED[name]
    training = read_model_header(model.path).metadata.training
    provenance = training["provenance"]
    assert provenance["command"] == " ".join(script.recipe_command(model.dataset))
    assert provenance["seed"] == script.SEED
    assert provenance["dataset_sha256"] == script.provenance(model, 0.0, 0.0)["dataset_sha256"]
    defaults = TrainConfig()
    recipe = {"dataset": model.dataset, **script.RECIPE_OVERRIDES}
    for key, value in defaults.to_dict().items():
        if key in script.LOCAL_KEYS:
            continue  # where it ran (threads, folders), not what it computed
        assert training[key] == recipe.get(key, value), key  # the default recipe, but for what the script sets


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(pretrained.BUNDLED))
def test_the_shipped_model_scores_what_its_metadata_says(cnn, tmp_path, name):
    model = pretrained.BUNDLED[name]
    make_present(model.dataset, tmp_path)
    run = cnn("eval", model.reference, "--data-dir", str(tmp_path), "--offline", "--json", "-q", timeout=600)
    assert run.exit_code == 0, run.stderr
    claimed = read_model_header(model.path).metadata.training["provenance"]["test_accuracy"]
    assert run.json()["count"] == 10_000
    assert abs(run.json()["accuracy"] - claimed) <= 0.0005  # 0.05 points: 5 of the 10,000 test images

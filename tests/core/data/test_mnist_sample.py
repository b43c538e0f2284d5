"""mnist-sample: real MNIST digits shipped in the package, reproducible from the real files."""

from __future__ import annotations

import fnmatch
import gzip
import importlib.util
import sys

from cnncli.core.data.catalog import CATALOG
from cnncli.core.data.content import verify
from tests.conftest import REPO, SHARED_DATASETS, require_shared

SAMPLE = REPO / "cnncli" / "resources" / "mnist-sample"


def _script():
    spec = importlib.util.spec_from_file_location("make_mnist_sample", REPO / "scripts" / "make_mnist_sample.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_shipped_files_match_their_pins_and_stay_small():
    for pin in CATALOG["mnist-sample"].files:
        verify(SAMPLE / pin.name, pin)
    assert sum(p.stat().st_size for p in SAMPLE.iterdir()) < 1 << 20


def test_the_package_data_globs_take_the_sample():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["cnncli"]
    for file in SAMPLE.iterdir():
        assert any(fnmatch.fnmatch(f"resources/mnist-sample/{file.name}", p) for p in patterns), file.name


def test_the_script_regenerates_the_same_sample(tmp_path):
    require_shared(SHARED_DATASETS / "mnist")
    contents = _script().make(SHARED_DATASETS / "mnist", tmp_path)
    for name, data in contents.items():
        assert data == gzip.decompress((SAMPLE / name).read_bytes()), name

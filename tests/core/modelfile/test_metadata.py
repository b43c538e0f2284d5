"""ModelMetadata: its TOML round trip, and a clear BadInput for every key that is missing or wrong."""

from __future__ import annotations

import re
import tomllib
from dataclasses import replace

import pytest

from cnncli.core.errors import BadInput
from cnncli.core.modelfile.metadata import FORMAT_VERSION, ArchitectureInfo, ModelMetadata, Preprocessing
from tests.support.helpers import metadata_for


def test_toml_round_trip_is_exact():
    metadata = metadata_for()
    text = metadata.to_toml()
    assert ModelMetadata.from_toml(text) == metadata
    table = tomllib.loads(text)
    assert table["format_version"] == FORMAT_VERSION
    assert table["architecture"] == {"name": "tutorial", "spec": metadata.architecture.spec}
    assert table["preprocessing"]["prepare"] == "mnist"
    assert table["training"]["optimizer"]["betas"] == [0.9, 0.999]


def test_empty_training_and_metrics_round_trip():
    metadata = replace(metadata_for(), training={}, metrics={})
    assert ModelMetadata.from_toml(metadata.to_toml()) == metadata


def test_a_spec_without_a_builtin_name_round_trips():
    metadata = metadata_for("conv(8, 3) relu fc(classes)", num_classes=3)
    assert "name" not in tomllib.loads(metadata.to_toml())["architecture"]
    assert ModelMetadata.from_toml(metadata.to_toml()) == metadata


def test_json_form_has_the_time_as_text():
    document = metadata_for().to_json()
    assert document["created"] == "2026-05-09T07:35:25+00:00"
    assert document["input_shape"] == [1, 28, 28]


def _edited(pattern: str, replacement: str) -> str:
    text = metadata_for().to_toml()
    edited = re.sub(pattern, replacement, text, count=1, flags=re.M | re.S)
    assert edited != text, pattern
    return edited


@pytest.mark.parametrize(
    ("pattern", "replacement", "words"),
    [
        (r"^format_version = 1$", "format_version = 2", "format 2, newer than the format 1"),
        (r"^format_version = 1$", 'format_version = "1"', "format_version must be a whole number"),
        (r"^format_version = 1\n", "", "format_version is missing"),
        (r"^created = .*?\n", 'created = "yesterday"\n', "created must be a TOML date-time"),
        (r"^\[dataset\].*?(?=^\[)", "", "dataset is missing"),
        (r'^checksum = ".*?"\n', "", "dataset.checksum is missing"),
        (r'^spec = ".*?"', 'spec = "conv(32, 5"', "architecture.spec does not parse"),
        (r'^spec = ".*?"', "spec = 3", "architecture.spec must be a non-empty string"),
        (r"^channels = 1$", "channels = 3", "says 3 channels of 28x28 but input_shape is [1, 28, 28]"),
        (r"^channels = 1$", "channels = true", "preprocessing.channels must be a whole number"),
        (r"^mean = \[.*?\]", "mean = []", "preprocessing.mean must be a non-empty list"),
        (r"^std = \[.*?\]", "std = [0.0]", "preprocessing.std must be a non-empty list of finite positive"),
        (r"^mean = \[.*?\]", "mean = [0.1, 0.2]", "one mean and one std per channel"),
        (r"^size = \[.*?\]", "size = [28]", "preprocessing.size must be 2 whole numbers"),
        (r"^input_shape = \[.*?\]", "input_shape = [1, 0, 28]", "input_shape must be 3 whole numbers of at least 1"),
        (r"^classes = \[.*?\]", "classes = []", "classes must be a non-empty list"),
        (r"^classes = \[.*?\]", 'classes = ["a", "a"]', "classes must not repeat a name"),
        (r"^classes = \[.*?\]", "classes = [1, 2]", "classes must be a list of class names"),
        (r"^\[versions\].*", "", "versions is missing"),
        (r"^\[metrics\]", "[metrics", "is not valid TOML"),
    ],
)
def test_each_fault_is_a_bad_input_naming_the_key(pattern, replacement, words):
    with pytest.raises(BadInput) as caught:
        ModelMetadata.from_toml(_edited(pattern, replacement))
    assert words in caught.value.message
    assert caught.value.hint


def test_a_free_form_table_must_be_a_table():
    text = re.sub(r"^\[metrics\]\n.*?(?=^\[versions\])", "", metadata_for().to_toml(), flags=re.M | re.S)
    with pytest.raises(BadInput, match="metrics must be a table"):
        ModelMetadata.from_toml("metrics = 3\n" + text)


def test_writing_refuses_what_toml_cannot_hold():
    with pytest.raises(BadInput, match=r"training.scheduler holds None"):
        replace(metadata_for(), training={"scheduler": None}).to_toml()
    with pytest.raises(BadInput, match="classes must not repeat"):
        replace(metadata_for(), classes=("a", "a")).to_toml()


def test_the_spec_must_fit_the_input_to_be_analysed():
    metadata = replace(
        metadata_for(),
        architecture=ArchitectureInfo("conv(8, 40)"),
    )
    with pytest.raises(BadInput, match="leaves no pixels"):
        metadata.analyse()
    assert metadata_for().analyse().total_params == 3_199_106


def test_preprocessing_for_three_channels():
    metadata = metadata_for("tutorial", (3, 32, 32))
    assert metadata.preprocessing == Preprocessing(3, (32, 32), (0.1307,) * 3, (0.3081,) * 3, "mnist")
    assert ModelMetadata.from_toml(metadata.to_toml()) == metadata

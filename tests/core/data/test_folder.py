"""folder:PATH datasets: layout, the stratified split, decoding with Pillow, the prepared copy, streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from cnncli.core.data import load_split
from cnncli.core.data.folder import scan, split_indices
from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.reporting import RecordingReporter
from tests.support.datafiles import image_folder


def _name(root: Path) -> str:
    return f"folder:{root}"


def test_train_and_test_sub_folders_are_the_splits(tmp_path):
    root = tmp_path / "shapes"
    image_folder(root / "train", {"square": 6, "circle": 4})
    image_folder(root / "test", {"square": 2, "circle": 3})
    train = load_split(_name(root), "train", tmp_path / "data")
    test = load_split(_name(root), "test", tmp_path / "data")
    assert train.info.classes == ("circle", "square")  # sorted folder names
    assert torch.bincount(train.labels).tolist() == [4, 6] and torch.bincount(test.labels).tolist() == [3, 2]
    assert train.images.shape == (10, 1, 12, 10) and train.images.dtype == torch.uint8  # the most common size
    assert (train.info.channels, train.info.height, train.info.width, train.info.prepare) == (1, 12, 10, "resize")
    assert train.info.name == f"folder:{root}" and train.info.checksum == test.info.checksum
    assert 0.4 < train.info.mean[0] < 0.6 and 0.2 < train.info.std[0] < 0.35  # random pixels


def test_pixels_arrive_unchanged_when_no_resize_is_needed(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 2, "b": 2})
    split = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.5)
    listing = scan(root)
    for position, index in enumerate(split_indices(listing, "train", 0.5, 0)):
        pixels = np.asarray(Image.open(listing.files[index]))
        assert np.array_equal(split.images[position, 0].numpy(), pixels)
        assert split.labels[position] == listing.labels[index]


def test_a_seeded_stratified_split(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 10, "b": 5, "c": 20})
    test = load_split(_name(root), "test", tmp_path / "data", test_fraction=0.2, seed=7)
    train = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.2, seed=7)
    assert torch.bincount(test.labels).tolist() == [2, 1, 4] and torch.bincount(train.labels).tolist() == [8, 4, 16]
    listing = scan(root)
    same = split_indices(listing, "test", 0.2, 7)
    assert np.array_equal(same, split_indices(listing, "test", 0.2, 7))
    assert not np.array_equal(same, split_indices(listing, "test", 0.2, 8))
    assert set(same).isdisjoint(split_indices(listing, "train", 0.2, 7))
    assert test.info.checksum != load_split(_name(root), "test", tmp_path / "data", test_fraction=0.4).info.checksum
    with pytest.raises(UsageError, match="not between 0 and 1"):
        load_split(_name(root), "test", tmp_path / "data", test_fraction=1.0)


def test_colour_wins_and_sizes_are_unified(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 8, "b": 8}, mode="mixed")
    split = load_split(_name(root), "train", tmp_path / "data", image_size=(16, 16), test_fraction=0.25)
    assert split.images.shape == (12, 3, 16, 16) and split.info.channels == 3 and len(split.info.mean) == 3
    grey = Image.open(root / "a" / "000.png")
    assert grey.mode == "L"


def test_the_prepared_copy_is_used_until_a_file_changes(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 3, "b": 3})
    progress = RecordingReporter()
    first = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.3, progress=progress)
    assert any("decoding 6 images" in text and "into memory (" in text for _, text in progress.messages)
    [prepared] = (tmp_path / "data" / "folders").iterdir()
    stamp = prepared.stat().st_mtime_ns
    again_progress = RecordingReporter()
    again = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.3, progress=again_progress)
    assert torch.equal(again.images, first.images) and again.info == first.info
    assert again_progress.messages == [] and prepared.stat().st_mtime_ns == stamp  # nothing decoded
    image_folder(root, {"a": 4})  # rewrites a's files and adds one
    assert len(load_split(_name(root), "train", tmp_path / "data", test_fraction=0.3)) == 5
    assert len(list((tmp_path / "data" / "folders").iterdir())) == 2


def test_an_unreadable_image_is_named(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 3, "b": 3})
    (root / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but then nothing sensible")
    with pytest.raises(BadInput) as caught:
        load_split(_name(root), "train", tmp_path / "data")
    assert f"cannot read image {root / 'b' / 'broken.png'}" in caught.value.message


def test_a_truncated_image_is_named_when_decoded(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 3, "b": 3})
    whole = (root / "a" / "001.png").read_bytes()
    (root / "a" / "001.png").write_bytes(whole[: len(whole) - 40])  # the header reads, the pixels do not
    with pytest.raises(BadInput, match=r"cannot read image .*001\.png"):
        load_split(_name(root), "train", tmp_path / "data")


def test_a_folder_too_big_for_memory_is_streamed(tmp_path):
    root = image_folder(tmp_path / "f", {"a": 6, "b": 6}, mode="mixed")
    progress = RecordingReporter()
    split = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.25, memory_limit=100, progress=progress)
    assert split.streamed and split.images is None and len(split) == 8  # 2 of each class's 6 are for testing
    assert any("streaming" in text for _, text in progress.messages)
    assert not (tmp_path / "data" / "folders").exists()
    batches = list(DataLoader(split.dataset(), batch_size=4, num_workers=1))
    images = torch.cat([b[0] for b in batches])
    assert images.shape == (8, 3, 12, 10) and images.dtype == torch.uint8
    assert torch.equal(torch.cat([b[1] for b in batches]), split.labels)
    in_memory = load_split(_name(root), "train", tmp_path / "data", test_fraction=0.25)
    assert torch.equal(images, in_memory.images)  # the same pixels either way


@pytest.mark.parametrize(
    ("layout", "error", "message"),
    [
        ({"only": 3}, BadInput, "has 1 class sub-folder(s)"),
        ({"a": 3, "b": 0}, BadInput, "holds no images"),
    ],
)
def test_layouts_that_cannot_work(tmp_path, layout, error, message):
    root = image_folder(tmp_path / "f", layout)
    with pytest.raises(error) as caught:
        load_split(_name(root), "train", tmp_path / "data")
    assert message in caught.value.message


def test_a_test_class_unknown_to_train_and_a_missing_folder(tmp_path):
    root = tmp_path / "f"
    image_folder(root / "train", {"a": 2, "b": 2})
    image_folder(root / "test", {"a": 1, "z": 1})
    with pytest.raises(BadInput, match="is a class that"):
        load_split(_name(root), "test", tmp_path / "data")
    with pytest.raises(NotFound, match="no folder"):
        load_split(_name(tmp_path / "nowhere"), "train", tmp_path / "data")
    with pytest.raises(UsageError, match="folder: needs a path"):
        load_split("folder:", "train")

"""What `cnn predict` is pointed at: files, folders (recursive or not), globs, stdin, and names that
match nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnncli.core.errors import UsageError
from cnncli.core.inference.images import ImageSource
from cnncli.core.inference.inputs import MissingInput, expand_inputs


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("b.png", "a.JPG", "c.webp", "notes.txt", ".hidden.png", "sub/d.png", "sub/deeper/e.bmp", "odd[1].png"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "f.png").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    return tmp_path


def names(inputs, root: Path) -> list[str]:
    return [str(Path(i.name).relative_to(root)) if isinstance(i, ImageSource) else f"missing:{i.name}" for i in inputs]


def test_a_folder_gives_its_images_sorted_and_recursive_its_sub_folders_too(tree):
    assert names(expand_inputs([str(tree)]), tree) == ["a.JPG", "b.png", "c.webp", "odd[1].png"]
    deep = names(expand_inputs([str(tree)], recursive=True), tree)
    assert deep == ["a.JPG", "b.png", "c.webp", "odd[1].png", "sub/d.png", "sub/deeper/e.bmp"]  # no hidden ones


def test_globs_are_expanded_even_when_quoted(tree):
    assert names(expand_inputs([f"{tree}/*.png"]), tree) == ["b.png", "odd[1].png"]
    assert names(expand_inputs([f"{tree}/**/*.png"]), tree) == ["b.png", "odd[1].png", "sub/d.png"]
    # an existing file whose name looks like a pattern is that file
    assert names(expand_inputs([str(tree / "odd[1].png")]), tree) == ["odd[1].png"]


def test_files_are_taken_whatever_their_suffix_and_in_the_order_given(tree):
    given = [str(tree / "notes.txt"), str(tree / "b.png")]
    assert names(expand_inputs(given), tree) == ["notes.txt", "b.png"]


def test_names_that_match_nothing_become_failed_inputs(tree):
    found = expand_inputs([str(tree / "nope.png"), f"{tree}/*.gif", str(tree / "empty"), str(tree / "b.png")])
    missing = [item for item in found if isinstance(item, MissingInput)]
    assert [m.reason for m in missing] == [
        "no such file or folder",
        "no file matches this pattern",
        "a folder with no image files in it (--recursive looks in sub-folders)",
    ]
    assert isinstance(found[-1], ImageSource)


def test_dash_is_standard_input_once():
    (item,) = expand_inputs(["-"], stdin=b"\x89PNG...")
    assert item == ImageSource("-", data=b"\x89PNG...")
    with pytest.raises(UsageError, match="once"):
        expand_inputs(["-", "-"], stdin=b"")
    with pytest.raises(UsageError, match="name the images"):
        expand_inputs([])

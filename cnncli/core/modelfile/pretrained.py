"""The pretrained models shipped inside the package, and the one place their checksums are pinned.

    cnncli/resources/pretrained/mnist.safetensors            (+ mnist.toml, for people)
    cnncli/resources/pretrained/fashion-mnist.safetensors    (+ fashion-mnist.toml)

They are named `pretrained:NAME` wherever a model is asked for (see reference.py). Each was made by
scripts/make_pretrained.py with the default recipe of `cnn train` and a fixed seed; the script records how
(command, seed, versions, the dataset's checksum, test accuracy) in the model's own metadata, and prints the
sha256 to pin below when it rebuilds one. A bundled file whose bytes differ from its pin is refused, never
used: a damaged install or a hand-edited file would otherwise predict wrongly without a word.
Pure Python (hashlib): `cnn summary pretrained:mnist` needs no torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cnncli.core.errors import BadInput

PREFIX = "pretrained:"  # a colon: never in an architecture name (letters, digits, '-', '_') nor in a spec
FOLDER = ("resources", "pretrained")  # inside the cnncli package


@dataclass(frozen=True)
class BundledModel:
    name: str  # what follows "pretrained:"
    dataset: str  # the dataset it was trained on (a name in core/data/catalog.py)
    sha256: str  # of the .safetensors file as shipped

    @property
    def reference(self) -> str:
        return PREFIX + self.name

    @property
    def file_name(self) -> str:
        return f"{self.name}.safetensors"

    @property
    def path(self) -> Path:
        return pretrained_folder() / self.file_name


# The pins: rebuilding a model (scripts/make_pretrained.py) prints its new line for here.
BUNDLED: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel("mnist", "mnist", "81cac1a72af8983df457f81c077e98ed1e1ac6062a58d8769b11d38b4ddba8ce"),
        BundledModel(
            "fashion-mnist", "fashion-mnist", "1160376d6d1d2a20fdafdc2a96d70d7f5eeaafbd89013f516525048335d51ec2"
        ),
    )
}
DEFAULT = "mnist"  # what `cnn predict digit.png` uses before the user has trained anything


def pretrained_folder() -> Path:
    return Path(str(resources.files("cnncli").joinpath(*FOLDER)))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundled_for_path(path: Path) -> BundledModel | None:
    """The bundled model a path names (given as a plain file path too), or None."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return None
    for model in BUNDLED.values():
        if resolved == model.path.resolve():
            return model
    return None


def verify(model: BundledModel) -> Path:
    """The bundled file's path once its bytes match the pin; BadInput when they do not (or it is gone)."""
    hint = "reinstall cnncli (pip install --force-reinstall cnncli); a bundled model is never used unverified"
    path = model.path
    try:
        found = sha256_of(path)
    except OSError as exc:
        raise BadInput(f"the bundled model {model.reference} cannot be read at {path}: {exc.strerror}", hint) from None
    if found != model.sha256:
        raise BadInput(
            f"the bundled model {model.reference} is damaged or was edited: {path} has sha256 {found[:16]}…, "
            f"not the pinned {model.sha256[:16]}…",
            hint,
        )
    return path

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
    onnx_sha256: str  # of its export beside it (cnn export), which `cnn predict` runs without torch

    @property
    def reference(self) -> str:
        return PREFIX + self.name

    @property
    def file_name(self) -> str:
        return f"{self.name}.safetensors"

    @property
    def path(self) -> Path:
        return pretrained_folder() / self.file_name

    @property
    def onnx_path(self) -> Path:
        return self.path.with_suffix(".onnx")


# The pins: rebuilding a model (scripts/make_pretrained.py) prints its new line for here.
BUNDLED: dict[str, BundledModel] = {
    model.name: model
    for model in (
        BundledModel(
            "mnist",
            "mnist",
            "506cc848d8019765cfea93dbae45d2bceba6a2a9f58cfb354182262e373b2292",
            "2d3765f8893f2701d9023359b46dc10c5718c6f4b4e44be76c0ab0fb4ace7ce1",
        ),
        BundledModel(
            "fashion-mnist",
            "fashion-mnist",
            "335c58ae4ba754df3efab94da92085c99505bd24ad220a751a92d90cddd39b68",
            "8be872ce89b651fe14bf6836e68927e607f1c8c887a5e49497537caa9c12afdf",
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


def verify(model: BundledModel, export: bool = False) -> Path:
    """The bundled file's path once its bytes match the pin (`export`: the .onnx beside it); BadInput when they
    do not (or it is gone)."""
    hint = "reinstall cnncli (pip install --force-reinstall cnncli); a bundled model is never used unverified"
    path, pin = (model.onnx_path, model.onnx_sha256) if export else (model.path, model.sha256)
    try:
        found = sha256_of(path)
    except OSError as exc:
        raise BadInput(f"the bundled model {model.reference} cannot be read at {path}: {exc.strerror}", hint) from None
    if found != pin:
        raise BadInput(
            f"the bundled model {model.reference} is damaged or was edited: {path} has sha256 {found[:16]}…, "
            f"not the pinned {pin[:16]}…",
            hint,
        )
    return path


def verify_if_bundled(path: Path) -> None:
    """A path that is a bundled file (a model or its export, however it was named) must match its pin."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):
        return
    for model in BUNDLED.values():
        if resolved == model.path.resolve():
            verify(model)
        elif resolved == model.onnx_path.resolve():
            verify(model, export=True)

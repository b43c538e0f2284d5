"""The metadata of a model file: everything needed to rebuild a network and feed it images.

A model file embeds one TOML document (see modelheader.py); ModelMetadata is its typed form. Reading
validates every key and type, so a hand-edited or foreign document is a BadInput naming the key,
never a KeyError deep inside `cnn predict`. Pure Python: `cnn summary` reads it without torch.

    format_version = 1
    created = 2026-05-09T07:35:25Z
    input_shape = [1, 28, 28]
    classes = ["0", "1", ...]
    [architecture]    name (a built-in, optional), spec
    [preprocessing]   channels, size, mean, std, prepare
    [dataset]         name, checksum
    [training]        the training configuration, free-form
    [metrics]         the final metrics, free-form
    [versions]        cnn, torch, python
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

from cnncli import __version__
from cnncli.core.arch.shapes import ChainReport, analyse
from cnncli.core.arch.spec import Layer, parse_spec
from cnncli.core.errors import BadInput, ShapeError, SpecError
from cnncli.core.safe_parse import is_number, loads_toml
from cnncli.core.units import format_dims

FORMAT_VERSION = 1  # bump when a reader of the old format could misread the new one

Table = dict[str, Any]


def _fault(key: str, problem: str) -> BadInput:
    return BadInput(
        f"model metadata: {key} {problem}",
        "the model file's metadata is damaged or was edited by hand; save the model again from its run",
    )


# ---------------------------------------------------------------------------------------------
# Reading typed values out of a parsed TOML table, with the key's full path in every error
# ---------------------------------------------------------------------------------------------


def _table(parent: Table, key: str, where: str = "") -> Table:
    value = _required(parent, key, where)
    if not isinstance(value, dict):
        raise _fault(where + key, f"must be a table, not {type(value).__name__}")
    return value


def _required(parent: Table, key: str, where: str) -> Any:
    if key not in parent:
        raise _fault(where + key, "is missing")
    return parent[key]


def _string(parent: Table, key: str, where: str = "", optional: bool = False) -> str | None:
    if optional and key not in parent:
        return None
    value = _required(parent, key, where)
    if not isinstance(value, str) or not value.strip():
        raise _fault(where + key, f"must be a non-empty string, not {value!r}")
    return value


def _int_list(parent: Table, key: str, length: int, where: str = "") -> tuple[int, ...]:
    value = _required(parent, key, where)
    ok = isinstance(value, list) and len(value) == length
    if not ok or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        raise _fault(where + key, f"must be {length} whole numbers of at least 1, not {value!r}")
    return tuple(value)


def _float_list(parent: Table, key: str, where: str, positive: bool = False) -> tuple[float, ...]:
    value = _required(parent, key, where)
    numbers = isinstance(value, list) and value and all(is_number(v) for v in value)
    if not numbers or (positive and min(value) <= 0):
        what = "positive numbers" if positive else "numbers"
        raise _fault(where + key, f"must be a non-empty list of finite {what}, not {value!r}")
    return tuple(float(v) for v in value)


def _check_toml_values(value: Any, key: str) -> None:
    """Free-form tables (training, metrics) must hold what TOML can write: no None, string keys."""
    if isinstance(value, dict):
        for inner_key, inner in value.items():
            if not isinstance(inner_key, str):
                raise _fault(f"{key}.{inner_key!r}", "must have a string key")
            _check_toml_values(inner, f"{key}.{inner_key}")
    elif isinstance(value, (list, tuple)):
        for index, inner in enumerate(value):
            _check_toml_values(inner, f"{key}[{index}]")
    elif not isinstance(value, (str, int, float, bool, datetime)):
        raise _fault(key, f"holds {value!r}, which TOML cannot store (no null, no objects)")


# ---------------------------------------------------------------------------------------------
# The metadata
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArchitectureInfo:
    spec: str  # the spec string: the one truth the network is rebuilt from
    name: str | None = None  # the built-in name it came from, if any (for people; spec wins)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return parse_spec(self.spec)


@dataclass(frozen=True)
class Preprocessing:
    """How raw images become the network's input: prepare them, then normalise per channel."""

    channels: int
    size: tuple[int, int]  # height, width
    mean: tuple[float, ...]  # one per channel
    std: tuple[float, ...]
    prepare: str  # how the dataset prepares raw images: "mnist", "fashion", "resize", ...


@dataclass(frozen=True)
class DatasetRecord:
    name: str
    checksum: str  # of the dataset's content, e.g. "sha256:..."


@dataclass(frozen=True)
class Versions:
    cnn: str
    torch: str
    python: str

    @classmethod
    def current(cls) -> Versions:
        """This interpreter's versions; torch's from its package metadata, so torch is not imported."""
        try:
            torch_version = importlib_metadata.version("torch")
        except importlib_metadata.PackageNotFoundError:
            torch_version = "unknown"
        return cls(__version__, torch_version, platform.python_version())


@dataclass(frozen=True)
class ModelMetadata:
    architecture: ArchitectureInfo
    input_shape: tuple[int, int, int]  # channels, height, width
    classes: tuple[str, ...]  # class names, in the order of the network's outputs
    preprocessing: Preprocessing
    dataset: DatasetRecord
    training: Table = field(default_factory=dict)  # the training configuration
    metrics: Table = field(default_factory=dict)  # the final metrics
    versions: Versions = field(default_factory=Versions.current)
    created: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    format_version: int = FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def analyse(self) -> ChainReport:
        """The pure analysis of the network described here; ShapeError if it cannot take its input."""
        arch = self.architecture
        return analyse(arch.layers, tuple(self.input_shape), self.num_classes, arch.spec)

    def to_table(self) -> Table:
        """The TOML document as nested dicts (what tomli_w writes)."""
        self.validate()
        architecture: Table = {"spec": self.architecture.spec}
        if self.architecture.name is not None:
            architecture = {"name": self.architecture.name, **architecture}
        pre = self.preprocessing
        return {
            "format_version": self.format_version,
            "created": self.created,
            "input_shape": list(self.input_shape),
            "classes": list(self.classes),
            "architecture": architecture,
            "preprocessing": {
                "channels": pre.channels,
                "size": list(pre.size),
                "mean": list(pre.mean),
                "std": list(pre.std),
                "prepare": pre.prepare,
            },
            "dataset": {"name": self.dataset.name, "checksum": self.dataset.checksum},
            "training": self.training,
            "metrics": self.metrics,
            "versions": {"cnn": self.versions.cnn, "torch": self.versions.torch, "python": self.versions.python},
        }

    def to_toml(self) -> str:
        import tomli_w  # only writers need it

        return tomli_w.dumps(self.to_table())

    def to_json(self) -> Table:
        """The same document for JSON output: the creation time as an ISO 8601 string."""
        table = self.to_table()
        table["created"] = self.created.isoformat()
        return _json_safe(table)

    @classmethod
    def from_toml(cls, text: str) -> ModelMetadata:
        try:
            table = loads_toml(text)
        except ValueError as error:  # not TOML, or nested too deeply
            raise _fault("document", f"is not valid TOML ({error})") from None
        return cls.from_table(table)

    @classmethod
    def from_table(cls, table: Table) -> ModelMetadata:
        version = _required(table, "format_version", "")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _fault("format_version", f"must be a whole number of at least 1, not {version!r}")
        if version > FORMAT_VERSION:
            raise BadInput(
                f"this model file is format {version}, newer than the format {FORMAT_VERSION} this cnn reads",
                "upgrade cnn to read it",
            )
        created = _required(table, "created", "")
        if not isinstance(created, datetime):
            raise _fault("created", f"must be a TOML date-time, not {created!r}")
        classes = _required(table, "classes", "")
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise _fault("classes", f"must be a list of class names, not {classes!r}")
        architecture, pre = _table(table, "architecture"), _table(table, "preprocessing")
        dataset, versions = _table(table, "dataset"), _table(table, "versions")
        training, metrics = _table(table, "training"), _table(table, "metrics")
        size = _int_list(pre, "size", 2, "preprocessing.")
        metadata = cls(
            architecture=ArchitectureInfo(
                _string(architecture, "spec", "architecture."),  # type: ignore[arg-type]
                _string(architecture, "name", "architecture.", optional=True),
            ),
            input_shape=_int_list(table, "input_shape", 3),  # type: ignore[arg-type]
            classes=tuple(classes),
            preprocessing=Preprocessing(
                channels=_channels(pre),
                size=(size[0], size[1]),
                mean=_float_list(pre, "mean", "preprocessing."),
                std=_float_list(pre, "std", "preprocessing.", positive=True),
                prepare=_string(pre, "prepare", "preprocessing."),  # type: ignore[arg-type]
            ),
            dataset=DatasetRecord(
                _string(dataset, "name", "dataset."),  # type: ignore[arg-type]
                _string(dataset, "checksum", "dataset."),  # type: ignore[arg-type]
            ),
            training=training,
            metrics=metrics,
            versions=Versions(
                _string(versions, "cnn", "versions."),  # type: ignore[arg-type]
                _string(versions, "torch", "versions."),  # type: ignore[arg-type]
                _string(versions, "python", "versions."),  # type: ignore[arg-type]
            ),
            created=created,
            format_version=version,
        )
        metadata.validate()
        return metadata

    def validate(self) -> None:
        """Types, and the agreements between keys (channels, size and class names)."""
        if not self.classes or not all(isinstance(c, str) and c for c in self.classes):
            raise _fault("classes", "must be a non-empty list of non-empty class names")
        if len(set(self.classes)) != len(self.classes):
            raise _fault("classes", "must not repeat a name")
        shape, pre = self.input_shape, self.preprocessing
        if len(shape) != 3 or not all(isinstance(d, int) and d >= 1 for d in shape):
            raise _fault("input_shape", f"must be [channels, height, width], not {list(shape)!r}")
        if pre.channels != shape[0] or tuple(pre.size) != tuple(shape[1:]):
            raise _fault(
                "preprocessing",
                f"says {pre.channels} channels of {format_dims(pre.size)} but input_shape is {list(shape)}",
            )
        if len(pre.mean) != pre.channels or len(pre.std) != pre.channels:
            raise _fault("preprocessing", f"needs one mean and one std per channel ({pre.channels})")
        if not self.architecture.spec.strip():
            raise _fault("architecture.spec", "is empty")
        try:
            self.analyse()  # a spec that does not parse, or cannot take the input, is a metadata fault
        except SpecError as error:
            raise _fault("architecture.spec", f"does not parse: {error.message}") from None
        except ShapeError as error:
            raise _fault("architecture.spec", f"does not fit input_shape {list(shape)}: {error.message}") from None
        if not isinstance(self.created, datetime):
            raise _fault("created", "must be a date-time")
        _check_toml_values(self.training, "training")
        _check_toml_values(self.metrics, "metrics")


def _channels(pre: Table) -> int:
    value = _required(pre, "channels", "preprocessing.")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _fault("preprocessing.channels", f"must be a whole number of at least 1, not {value!r}")
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value

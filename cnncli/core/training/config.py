"""The training configuration: every option of `cnn train` in one commented place, and its precedence.

Constants that no option changes stay beside the code they shape: Adam's betas and SGD's momentum in
session.py (`_optimizer`), the one-cycle and step schedules' factors in schedule.py, the augmentation
strengths per kind of data in augment.py.

The defaults are the default recipe: `cnn train` with no flags trains the `lean` architecture on
MNIST with them. A config file (`--config FILE.toml`, keys as below) overrides the defaults, and
options given on the command line override the file; the effective configuration is saved in the run
folder as config.toml, and `--resume` reads it back. Pure Python: the CLI builds it without torch.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.safe_parse import loads_toml
from cnncli.core.training.schedule import SCHEDULES

OPTIMIZERS = ("adam", "adamw", "sgd")
MAX_INT = 2**63 - 1  # TOML's largest integer: config.toml and the model metadata must hold every value
MAX_THREADS = 1024
MAX_RATE = 1000.0  # lr and weight decay: far past anything that trains, well inside float32's range
OPTIONS_HINT = "see 'cnn train --help' for every option; a config file's keys are the same names"
# what --resume may change: where and how long it runs, never what it computes
RESUMABLE_OVERRIDES = frozenset(
    {"device", "threads", "max_time", "max_steps", "checkpoint_minutes", "patience", "epochs", "offline", "data_dir"}
)


@dataclass(frozen=True)
class TrainConfig:
    # -- what to train on ------------------------------------------------------------------------
    model: str = "lean"  # a built-in architecture or a spec string
    dataset: str = "mnist"  # a built-in dataset or folder:PATH
    # fraction of train held out (stratified, seeded) for validation: it picks the best epoch, so the test set
    # never chooses the model it then scores. 0: no hold-out; the last epoch's model is handed over, no "best".
    # 10% of MNIST's 60,000 is 6,000 images, 0.05 points of accuracy per 3 images: fine enough to pick by.
    val_split: float = 0.1
    init: str = ""  # a model reference to start from (fine-tuning); its head is replaced when the classes differ
    # -- optimisation ----------------------------------------------------------------------------
    epochs: int = 8  # passes over the training split
    batch_size: int = 256  # images per optimizer step (the global batch, across all processes)
    optimizer: str = "adamw"  # adam, adamw or sgd (Nesterov momentum 0.9)
    lr: float = 8e-3  # the peak learning rate (sgd wants ~0.1 to 0.4)
    schedule: str = "onecycle"  # onecycle, cosine, step or constant; per step, see training/schedule.py
    warmup: float = 0.2  # fraction of all steps spent rising to the peak (onecycle, cosine)
    weight_decay: float = 5e-4  # decoupled for adamw; never applied to biases and batch-norm weights
    label_smoothing: float = 0.1  # softens the targets: better calibrated, slightly more accurate
    augment: bool = True  # random translation (and more, per dataset) batched on the device
    # -- reproducibility -------------------------------------------------------------------------
    seed: int = 0  # every random draw (split, order, augmentation, dropout, init) follows from it
    deterministic: bool = False  # deterministic kernels only (slower on GPU)
    # -- hardware --------------------------------------------------------------------------------
    device: str = "auto"  # auto, cpu, cuda, cuda:N or mps
    threads: int = 0  # CPU threads for torch; 0: all cores (divided among processes)
    amp: str = "auto"  # bfloat16 autocast: auto (where the hardware has native bf16), on or off
    compile: bool = False  # torch.compile the model (slow to start, faster per step on GPU)
    # -- when to stop ----------------------------------------------------------------------------
    patience: int = 0  # stop after this many epochs without a better selection accuracy (0: never)
    max_time: float = 0.0  # stop after this many seconds of training, saving everything (0: never)
    max_steps: int = 0  # stop after this many optimizer steps in all (0: never); for tests and trials
    checkpoint_minutes: float = 0.0  # also checkpoint inside an epoch this often (0: once an epoch)
    # -- where things go -------------------------------------------------------------------------
    out: str = "runs"  # the folder that holds run folders
    name: str = ""  # the run folder's name (default: the model and dataset, numbered)
    data_dir: str = ""  # where datasets live (default: $CNN_DATA_DIR or the user cache folder)
    offline: bool = False  # never download; fail if the dataset is not present

    def validate(self) -> TrainConfig:
        """Raise UsageError for any value that cannot work; return self for chaining."""
        self._check_kinds()
        checks = [
            (self.epochs >= 1, f"epochs must be at least 1, not {self.epochs}"),
            (self.batch_size >= 1, f"batch size must be at least 1, not {self.batch_size}"),
            (0 < self.lr <= MAX_RATE, f"the learning rate must be positive and at most {MAX_RATE:g}, not {self.lr}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {self.optimizer!r}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}"),
            (0 <= self.warmup < 1, f"warmup must be a fraction in [0, 1), not {self.warmup}"),
            (
                0 <= self.weight_decay <= MAX_RATE,
                f"weight decay must be from 0 to {MAX_RATE:g}, not {self.weight_decay}",
            ),
            (0 <= self.label_smoothing < 1, f"label smoothing must be in [0, 1), not {self.label_smoothing}"),
            (0 <= self.val_split < 1, f"the validation split must be a fraction in [0, 1), not {self.val_split}"),
            (0 <= self.threads <= MAX_THREADS, f"threads must be from 0 to {MAX_THREADS}, not {self.threads}"),
            (self.seed >= 0, f"the seed must be at least 0, not {self.seed}"),
            (self.amp in ("auto", "on", "off"), f"amp must be auto, on or off, not {self.amp!r}"),
            (self.patience >= 0, f"patience must be at least 0, not {self.patience}"),
            (
                not (self.patience and not self.val_split),
                "--patience counts epochs without a better validation accuracy: it needs --val-split above 0",
            ),
            (self.max_time >= 0, f"max time must be at least 0, not {self.max_time}"),
            (self.max_steps >= 0, f"max steps must be at least 0, not {self.max_steps}"),
            (self.checkpoint_minutes >= 0, f"checkpoint minutes must be at least 0, not {self.checkpoint_minutes}"),
            (
                bool(re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]+)?", self.device)),
                f"device must be auto, cpu, cuda, cuda:N or mps, not {self.device!r}",
            ),
            (
                self.name == "" or (bool(re.fullmatch(r"[A-Za-z0-9._-]+", self.name)) and self.name not in (".", "..")),
                f"a run name is letters, digits, '.', '_' and '-', not {self.name!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message, OPTIONS_HINT)
        return self

    def _check_kinds(self) -> None:
        """Whatever the value, of the right kind: numbers finite and within TOML's range, text without NUL."""
        for item in fields(self):
            value, label = getattr(self, item.name), item.name.replace("_", " ")
            if isinstance(value, float) and not math.isfinite(value):
                raise UsageError(f"{label} must be a finite number, not {value}", OPTIONS_HINT)
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
                raise UsageError(f"{label} must be at most {MAX_INT:,} (2^63 - 1), not {value}", OPTIONS_HINT)
            if isinstance(value, str) and "\0" in value:
                raise UsageError(f"{label} must not contain a NUL character", OPTIONS_HINT)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> TrainConfig:
        """A copy with the given fields replaced; unknown keys are a BadInput naming them."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            shown = (key if re.fullmatch(r"[\w.-]+", key) else repr(key) for key in unknown)
            raise BadInput(
                f"unknown training option(s): {', '.join(shown)}",
                "the keys are the option names with '_' for '-': " + ", ".join(known),
            )
        return replace(self, **{k: _coerce(known[k].type, k, v) for k, v in overrides.items()})


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _coerce(type_name: Any, key: str, value: Any) -> Any:
    kind = _TYPES[type_name if isinstance(type_name, str) else type_name.__name__]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadInput(f"training option {key!r} must be {kind.__name__}, not {type(value).__name__} ({value!r})")
    return value


def normalise_keys(table: dict[str, Any]) -> dict[str, Any]:
    """TOML keys may use '-' like the options (batch-size) or '_' like the fields (batch_size)."""
    return {key.replace("-", "_"): value for key, value in table.items()}


@dataclass(frozen=True)
class LayeredConfig:
    config: TrainConfig  # what the run trains with
    explicit_name: bool  # --name was given (here or in the file): an existing folder is an error, not a new number


def check_sources(config_file: object, resume: object) -> None:
    """A resumed run keeps its own configuration: no config file beside --resume (checked first, before the
    run folder is even looked for)."""
    if resume is not None and config_file is not None:
        raise UsageError("--resume uses the run's own configuration; drop --config")


def layered_config(
    given: dict[str, Any], config_file: str | Path | None = None, resume: str | Path | None = None
) -> LayeredConfig:
    """The one home of the precedence: defaults < config file < command line; with --resume, the run's own
    config.toml < the few options a resume may change (RESUMABLE_OVERRIDES)."""
    check_sources(config_file, resume)
    file_values = read_config_file(config_file) if config_file else {}
    config = TrainConfig().with_overrides(file_values).with_overrides(given).validate()  # bad values first
    if resume is not None:
        config = resumed_config(Path(resume), given)
    return LayeredConfig(config, "name" in given or "name" in file_values)


def resumed_config(run_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The run's saved configuration, with the few options a resume may change."""
    from cnncli.core.modelfile import runs  # not at start-up: `cnn --help` imports this module

    if not (run_dir / runs.CONFIG).is_file():
        raise NotFound(f"{run_dir} is not a run folder: it has no {runs.CONFIG}", "give a folder under runs/")
    refused = sorted(set(overrides) - RESUMABLE_OVERRIDES)
    if refused:
        raise UsageError(
            f"--resume continues the run as it was configured; it cannot change {', '.join(refused)}",
            "it may change: " + ", ".join(sorted(RESUMABLE_OVERRIDES)),
        )
    saved = TrainConfig().with_overrides(read_config_file(run_dir / runs.CONFIG))
    # --max-steps and --max-time limit one invocation: a resume runs to the end unless given them again
    return saved.with_overrides({"max_steps": 0, "max_time": 0.0, **overrides}).validate()


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The overrides in a TOML config file: top-level keys, or a [train] table."""
    file = Path(path)
    if not file.is_file():
        raise NotFound(f"no config file at {file}", "give the path of a TOML file (keys as the options of cnn train)")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{file} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {file}: {exc.strerror or exc}") from None
    try:
        table = loads_toml(text)
    except ValueError as exc:  # TOMLDecodeError, or nested too deeply
        raise BadInput(f"{file} is not valid TOML: {exc}") from None
    if isinstance(table.get("train"), dict):
        table = table["train"]
    return normalise_keys(table)


def parse_duration(text: str) -> float:
    """'90', '90s', '5m', '1.5h' -> seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smh]?)\s*", text)
    if not match:
        raise UsageError(
            f"a duration is a number with an optional unit s, m or h (90s, 5m, 1h), not {text!r}", "e.g. --max-time 10m"
        )
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]

"""`cnn predict`: classify images from the world (files, folders, globs, stdin) with a trained model.

Bad inputs never stop the batch: each is reported in its place (in the table, or as
{"file": ..., "error": ...} in JSON) and the exit status says some failed (6) or all did (3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnncli.cli.common import ModelOption, command
from cnncli.cli.env import Env
from cnncli.cli.progress import reporter_for
from cnncli.cli.render import number, table
from cnncli.core.errors import BadInput, PartialFailure, UsageError

if TYPE_CHECKING:
    from cnncli.core.inference.model import InferenceModel
    from cnncli.core.inference.pipeline import Failure, Outcome
    from cnncli.core.modelfile.onnxfile import OnnxModel

Opt = typer.Option


@command
def predict(
    env: Env,
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="IMAGE...",
            show_default=False,
            help="Image files, folders, globs (quoted ones too), or - for one image on stdin.",
        ),
    ],
    model: ModelOption = None,
    recursive: Annotated[bool, Opt("--recursive", "-r", help="Look in folders' sub-folders too.")] = False,
    top_k: Annotated[int, Opt("--top-k", min=1, metavar="K", help="List the K likeliest classes.")] = 1,
    jsonl: Annotated[
        bool, Opt("--jsonl", help="One JSON object per image on stdout, each as soon as it is known.")
    ] = False,
    invert: Annotated[
        bool, Opt("--invert/--no-invert", help="Invert dark ink on light paper (detected from the border).")
    ] = True,
    clean: Annotated[
        bool, Opt("--clean/--no-clean", help="Remove lighting and paper texture, stretch the ink to white.")
    ] = True,
    crop: Annotated[bool, Opt("--crop/--no-crop", help="Crop to the ink's box.")] = True,
    center: Annotated[
        bool, Opt("--center/--no-center", help="Centre by centre of mass (else the box's centre).")
    ] = True,
    raw: Annotated[bool, Opt("--raw", help="No recipe: convert and resize to the model's input only.")] = False,
    show: Annotated[bool, Opt("--show", help="Draw the image the network sees, on stderr.")] = False,
    batch_size: Annotated[int, Opt("--batch-size", "-b", min=1, metavar="N", help="Images per network call.")] = 128,
    workers: Annotated[
        int | None,
        Opt(
            "--workers",
            min=0,
            metavar="N",
            show_default=False,
            help="Decoding processes, 0 to 64 (default: one per core, at most 8; 0: decode in this one).",
        ),
    ] = None,
    device: Annotated[str, Opt("--device", metavar="auto|cpu|cuda|cuda:N|mps", help="Where to run it.")] = "auto",
    engine: Annotated[
        str,
        Opt(
            "--engine",
            metavar="auto|torch|onnx",
            help="auto: ONNX Runtime for an .onnx file or an up-to-date export beside the model, else torch.",
        ),
    ] = "auto",
) -> None:
    """Classify images with a trained model, prepared the way its dataset was made.

    \b
    cnn predict digit.png                      # the latest run's model, else pretrained:mnist
    cnn predict shirt.jpg --model pretrained:fashion-mnist
    cnn predict photos/ -r --top-k 3 --model runs/lean-mnist-1
    cnn predict "scans/*.jpg" --jsonl > predictions.jsonl
    cat digit.png | cnn predict - --show
    """
    if env.json and jsonl:
        raise UsageError("--json and --jsonl are two ways to print the same thing: give one")
    from cnncli.core.inference.engine import choose_engine
    from cnncli.core.inference.images import MAX_BYTES
    from cnncli.core.inference.inputs import STDIN, expand_inputs
    from cnncli.core.inference.pipeline import Failure, PredictSettings
    from cnncli.core.inference.prepare import PrepareOptions

    stdin = read_stdin(env, MAX_BYTES) if STDIN in inputs else None
    items = expand_inputs(inputs, recursive, stdin)
    choice = choose_engine(model, device, engine)
    if choice.note and env.verbose:
        env.say(choice.note)
    options = PrepareOptions(invert=invert, clean=clean, crop=crop, center=center, raw=raw)
    settings = PredictSettings(top_k=top_k, batch_size=batch_size, workers=workers, options=options, keep_seen=show)
    if choice.onnx_model is not None:  # torch is never imported on this path
        from cnncli.core.inference.onnx_predict import OnnxPredictor

        loaded: Any = choice.onnx_model
        predictor: Any = OnnxPredictor(choice.onnx_model, settings)
    else:
        from cnncli.core.inference.model import open_model
        from cnncli.core.inference.predict import Predictor

        loaded = open_model(str(choice.path), device)
        predictor = Predictor(loaded, settings)
    if model is None:  # the user did not choose: say which one, even beside JSON (on stderr)
        _say_default(env, loaded.metadata, choice.reference)
    elif not (env.json or jsonl):
        _say_model(env, loaded, predictor.recipe.kind if not raw else "raw resize")
    kept, failed = [], []  # streamed lines are not kept: a folder may hold millions
    with reporter_for(env) as progress:
        for outcome in predictor.run(items, progress):
            if jsonl:
                env.emit_jsonl(outcome_document(outcome))
            else:
                kept.append(outcome)
            if show:
                _show(env, outcome)
            if isinstance(outcome, Failure):
                failed.append(outcome)
    if env.json:
        env.emit_json([outcome_document(o) for o in kept])
    elif not jsonl:
        env.render(_table(env, kept, predictor.top_k))
    _verdict(failed, len(items))


def read_stdin(env: Env, limit: int) -> bytes:
    if env.stdin is None:
        raise UsageError("- reads an image from standard input, and there is none here")
    data = env.stdin.read(limit + 1)
    return data if isinstance(data, bytes) else data.encode()


def outcome_document(outcome: Outcome) -> dict[str, Any]:
    """One image's JSON: {file, label, index, confidence, top_k} or {file, error} (schema in the README)."""
    from cnncli.core.inference.pipeline import Failure

    if isinstance(outcome, Failure):
        return {"file": outcome.name, "error": outcome.error}
    return {
        "file": outcome.name,
        "label": outcome.label,
        "index": outcome.index,
        "confidence": round(outcome.confidence, 6),
        "top_k": [{"label": label, "confidence": round(p, 6)} for label, p in outcome.top],
    }


def _verdict(failed: list[Failure], total: int) -> None:
    """PARTIAL when some inputs failed, BAD_INPUT when all did; each one's reason is already shown."""
    if not failed:
        return
    if len(failed) == total:
        only = f": {failed[0].error}" if len(failed) == 1 else ""
        raise BadInput(f"no image could be predicted{only}", _failure_hint(failed))
    raise PartialFailure(f"{len(failed)} of {total} inputs could not be predicted", _failure_hint(failed))


def _failure_hint(failed: list[Failure]) -> str:
    return "each failed input is listed with its reason" if len(failed) > 1 else f"the input was {failed[0].name}"


# -- for people -------------------------------------------------------------------------------------


def _say_model(env: Env, loaded: InferenceModel | OnnxModel, recipe: str) -> None:
    meta = loaded.metadata
    name = meta.architecture.name or "spec"
    engine = "ONNX Runtime" if str(loaded.path).endswith(".onnx") else "torch"
    env.say(f"model: {loaded.path} ({name} on {meta.dataset.name}; {engine}; preparing images: {recipe})")


def _say_default(env: Env, meta: Any, reference: Any) -> None:
    """No --model: which model answered, and how to get one's own."""
    trained = f"{meta.architecture.name or 'spec'} on {meta.dataset.name}"
    if reference.is_bundled:
        env.say(f"model: {reference.description} ({trained}), shipped with cnn; no run of yours in runs/ yet")
        env.say("train your own with: cnn train  (then cnn predict uses it; --model picks another)")
    else:
        env.say(f"model: {reference.description} ({trained}); --model picks another")


def _table(env: Env, outcomes: list[Outcome], top_k: int) -> Any:
    from rich.text import Text

    from cnncli.core.inference.pipeline import Failure

    columns = ["file", "label", "confidence"] + (["top " + str(top_k)] if top_k > 1 else [])
    result = table(env, columns, [], right=(2,))
    for outcome in outcomes:
        if isinstance(outcome, Failure):
            error = Text(f"error: {outcome.error}", style="red" if env.color else "")
            result.add_row(outcome.name, error, "", *([""] if top_k > 1 else []))
            continue
        cells = [outcome.name, outcome.label, f"{100 * outcome.confidence:.1f}%"]
        if top_k > 1:
            cells.append(", ".join(f"{label} {100 * p:.1f}%" for label, p in outcome.top))
        result.add_row(*cells)
    predicted = sum(not isinstance(o, Failure) for o in outcomes)
    result.caption = f"{number(predicted)} predicted, {number(len(outcomes) - predicted)} failed"
    return result


def _show(env: Env, outcome: Outcome) -> None:
    from cnncli.cli.terminal_image import block_art
    from cnncli.core.inference.pipeline import Failure

    if isinstance(outcome, Failure) or outcome.seen is None:
        return
    env.say(f"{outcome.name}: {outcome.label} ({100 * outcome.confidence:.1f}%), as the network sees it:")
    env.render(block_art(outcome.seen, env.color))

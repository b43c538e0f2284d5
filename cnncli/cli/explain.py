"""`cnn explain`: what a trained network sees in an image, stage by stage, and where its evidence lies.

On a terminal each image is drawn in colour with half blocks: the input, Grad-CAM and integrated
gradients side by side, the first conv's filters, then every stage's maps, laid out to the terminal's
width. Off a terminal a plain summary per image. --out writes one PNG sheet per image, --json prints
the figures (and the attribution maps) on stdout. Bad images fail alone, as in `cnn predict`.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnncli.cli.common import ModelOption, command
from cnncli.cli.env import Env
from cnncli.cli.predict import outcome_document, read_stdin
from cnncli.cli.progress import reporter_for
from cnncli.cli.render import number, table
from cnncli.core.arch.shapes import format_shape
from cnncli.core.errors import BadInput, PartialFailure, UsageError
from cnncli.core.reporting import NULL_REPORTER

if TYPE_CHECKING:
    from cnncli.core.explain.explainer import Explainer, Explanation, StageMaps
    from cnncli.core.inference.predict import Failure

Opt = typer.Option
TERMINAL_CHANNELS = 8  # a stage's most active channels drawn on a terminal (two rows at 120 columns); --out: all
LEAST_TILE = 4  # pixels: smaller maps (a 3x3 stage, a 3x3 filter) are enlarged to be seen
DECIMALS = 6  # of the numbers in the JSON maps: far below what a picture of them can show


@command
def explain(
    env: Env,
    inputs: Annotated[
        list[str],
        typer.Argument(metavar="IMAGE...", show_default=False, help="Image files, folders, globs, or - for stdin."),
    ],
    model: ModelOption = None,
    target: Annotated[
        str | None,
        Opt(
            "--target",
            "-t",
            metavar="CLASS",
            show_default=False,
            help="The class to explain, by label or index (default: the predicted one).",
        ),
    ] = None,
    layers: Annotated[
        list[str] | None,
        Opt(
            "--layer",
            "-l",
            metavar="NAME",
            show_default=False,
            help="Show only this conv or pool layer (as `cnn shapes` names it); repeatable.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        Opt(
            "--out",
            "-o",
            metavar="FILE.png|DIR",
            show_default=False,
            help="Write a PNG sheet per image (needs matplotlib): FILE.png for one image, else a folder.",
        ),
    ] = None,
    top_k: Annotated[int, Opt("--top-k", min=1, metavar="K", help="List the K likeliest classes.")] = 3,
    steps: Annotated[
        int, Opt("--steps", min=1, max=1024, metavar="N", help="Integrated gradients' steps along the path.")
    ] = 64,
    recursive: Annotated[bool, Opt("--recursive", "-r", help="Look in folders' sub-folders too.")] = False,
    raw: Annotated[bool, Opt("--raw", help="No recipe: convert and resize to the model's input only.")] = False,
    device: Annotated[str, Opt("--device", metavar="auto|cpu|cuda|cuda:N|mps", help="Where to run it.")] = "auto",
) -> None:
    """Show what a trained network sees in images: every stage's feature maps, the first conv's filters,
    and where the evidence for a class lies (Grad-CAM and integrated gradients).

    \b
    cnn explain digit.png                           # in colour on a terminal
    cnn explain digit.png --layer conv1 --target 3  # one stage; the evidence for a 3
    cnn explain digits/ --out sheets/               # one PNG sheet per image
    cnn explain digit.png --json > explain.json
    """
    from cnncli.core.explain.explainer import Explainer, ExplainSettings
    from cnncli.core.inference.images import MAX_BYTES
    from cnncli.core.inference.inputs import STDIN, expand_inputs
    from cnncli.core.inference.model import open_model
    from cnncli.core.inference.predict import Failure
    from cnncli.core.inference.prepare import PrepareOptions

    if out is not None:
        from cnncli.core.inference.plot import require_matplotlib

        require_matplotlib()
    stdin = read_stdin(env, MAX_BYTES) if STDIN in inputs else None
    items = expand_inputs(inputs, recursive, stdin)
    sheets = _sheet_paths(out, [item.name for item in items]) if out is not None else None
    settings = ExplainSettings(top_k, target, layers, PrepareOptions(raw=raw), steps)
    explainer = Explainer(open_model(model, device), settings)
    if not env.json:
        _say_model(env, explainer, "raw resize" if raw else explainer.recipe.kind)
    documents, failed = [], []  # documents only for --json: each holds its maps as numbers
    drawing = env.stderr_isatty and env.show and not env.json
    # drawn images are their own progress; a live bar would be redrawn through the pictures
    with nullcontext(NULL_REPORTER) if drawing else reporter_for(env) as progress:
        for position, outcome in enumerate(explainer.run(items, progress)):
            if isinstance(outcome, Failure):
                failed.append(outcome)
                documents += [outcome_document(outcome)] if env.json else []
                env.say(f"{outcome.name}: error: {outcome.error}", style="red" if env.color else None)
                continue
            sheet = _write_sheet(sheets[position], outcome, explainer) if sheets else None
            if env.json:
                documents.append(explanation_document(outcome, explainer, sheet))
            else:
                _show(env, outcome, explainer, sheet)
    if env.json:
        env.emit_json(documents)
    _verdict(failed, len(items))


def _sheet_paths(out: Path, names: list[str]) -> list[Path]:
    """FILE.png for one image; otherwise a folder, one NAME.png per image (numbered where names clash)."""
    if out.suffix.lower() == ".png" and not out.is_dir():
        if len(names) > 1:
            raise UsageError(
                f"--out {out} is one file, and {len(names)} images were given", "give a folder: --out sheets/"
            )
        return [out]
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder", "give a folder for several sheets, or FILE.png")
    paths, taken = [], set()
    for name in names:
        stem = Path(name).stem if name != "-" else "stdin"
        candidate, number_ = stem, 1
        while candidate in taken:
            number_ += 1
            candidate = f"{stem}-{number_}"
        taken.add(candidate)
        paths.append(out / f"{candidate}.png")
    return paths


def _write_sheet(path: Path, outcome: Explanation, explainer: Explainer) -> Path:
    from cnncli.core.explain.sheet import write_sheet

    path.parent.mkdir(parents=True, exist_ok=True)
    return write_sheet(path, outcome, explainer.filters, explainer.model.classes)


def _verdict(failed: list[Failure], total: int) -> None:
    if not failed:
        return
    hint = "each failed input is listed with its reason" if len(failed) > 1 else f"the input was {failed[0].name}"
    if len(failed) == total:
        only = f": {failed[0].error}" if len(failed) == 1 else ""
        raise BadInput(f"no image could be explained{only}", hint)
    raise PartialFailure(f"{len(failed)} of {total} inputs could not be explained", hint)


# -- JSON -------------------------------------------------------------------------------------------


def explanation_document(outcome: Explanation, explainer: Explainer, sheet: Path | None) -> dict[str, Any]:
    """One image's JSON (schema in the README)."""
    classes = explainer.model.classes
    return {
        "file": outcome.name,
        "label": outcome.label,
        "index": outcome.predicted,
        "confidence": round(outcome.top[0][1], DECIMALS),
        "top_k": [{"label": label, "confidence": round(p, DECIMALS)} for label, p in outcome.top],
        "target": {"label": classes[outcome.target], "index": outcome.target},
        "stages": [_stage_document(stage) for stage in outcome.stages],
        "grad_cam": None if outcome.cam is None else {"layer": outcome.cam_layer, "map": _numbers(outcome.cam)},
        "integrated_gradients": {
            "steps": explainer.settings.steps,
            "baseline": "black",
            "logit_change": round(outcome.ig.change, DECIMALS),
            "completeness_gap": round(outcome.ig.gap, DECIMALS),
            "map": _numbers(outcome.ig.map),
        },
        "sheet": str(sheet) if sheet else None,
    }


def _stage_document(stage: StageMaps) -> dict[str, Any]:
    return {
        "name": stage.stage.name,
        "kind": stage.stage.kind,
        "activation": stage.stage.activation,
        "shape": list(stage.stage.shape),
        "min": round(stage.minimum, DECIMALS),
        "mean": round(stage.mean, DECIMALS),
        "max": round(stage.maximum, DECIMALS),
        "zero_share": round(stage.zero_share, DECIMALS),
        "top_channels": [{"channel": c, "mean": round(m, DECIMALS)} for c, m in stage.top_channels],
    }


def _numbers(values: Any) -> list[list[float]]:
    return values.astype("float64").round(DECIMALS).tolist()  # float32 would print its binary noise


# -- for people -------------------------------------------------------------------------------------


def _say_model(env: Env, explainer: Explainer, recipe: str) -> None:
    meta = explainer.model.metadata
    name = meta.architecture.name or "spec"
    env.say(f"model: {explainer.model.path} ({name} on {meta.dataset.name}; preparing images: {recipe})")


def _show(env: Env, outcome: Explanation, explainer: Explainer, sheet: Path | None) -> None:
    classes = explainer.model.classes
    guesses = ", ".join(f"{label} {100 * p:.1f}%" for label, p in outcome.top)
    env.say(f"{outcome.name}: {guesses}; evidence for {classes[outcome.target]}", style="bold" if env.color else None)
    if env.stderr_isatty:
        _draw(env, outcome, explainer)
    else:
        env.render(_summary(env, outcome))
        ig = outcome.ig
        env.say(f"integrated gradients: logit change {ig.change:.3f}, completeness gap {ig.gap:+.3f}")
    if sheet is not None:
        env.say(f"sheet: {sheet}")


def _summary(env: Env, outcome: Explanation) -> Any:
    columns = ["stage", "shape", "min", "mean", "max", "zeros", "most active channels"]
    rows = [
        [
            s.stage.name + (f" + {s.stage.activation}" if s.stage.activation else ""),
            format_shape(s.stage.shape),
            f"{s.minimum:.3g}",
            f"{s.mean:.3g}",
            f"{s.maximum:.3g}",
            f"{100 * s.zero_share:.0f}%",
            ", ".join(str(c) for c, _ in s.top_channels),
        ]
        for s in outcome.stages
    ]
    return table(env, columns, rows, right=(2, 3, 4, 5))


def _draw(env: Env, outcome: Explanation, explainer: Explainer) -> None:
    """The pictures in half blocks, each grid as wide as the terminal allows."""
    import numpy as np

    from cnncli.cli.terminal_image import block_art
    from cnncli.core.explain.tiles import activation_colours, columns_for, enlarged, grid, signed_colours, stage_tiles

    width = env.console.width
    seen = outcome.seen if outcome.seen.shape[0] == 3 else np.repeat(outcome.seen[:1], 3, axis=0)
    pictures = [seen, signed_colours(outcome.ig.map)]
    names = ["input", "integrated gradients (red: for)"]
    if outcome.cam is not None:
        pictures.insert(1, activation_colours(outcome.cam))
        names.insert(1, f"Grad-CAM at {outcome.cam_layer}")
    env.say("   ".join(names))
    env.render(block_art(grid(pictures, columns_for(seen.shape[2], width)), env.color))
    filters = explainer.filters
    if filters is not None:
        tiles = [
            enlarged(signed_colours(f.mean(axis=0), float(np.abs(filters.weights).max())), LEAST_TILE)
            for f in filters.weights
        ]
        env.say(f"{filters.layer} filters, {'x'.join(map(str, filters.weights.shape))} (red: positive weights):")
        env.render(block_art(grid(tiles, columns_for(tiles[0].shape[2], width)), env.color))
    for stage in outcome.stages:
        order = [c for c, _ in _ranked_channels(stage)][:TERMINAL_CHANNELS]
        tiles = stage_tiles(stage.maps)
        shown = [enlarged(tiles[c], LEAST_TILE) for c in sorted(order)]
        count = stage.maps.shape[0]
        which = f"; the {len(order)} most active of {number(count)}" if len(order) < count else ""
        after = f" + {stage.stage.activation}" if stage.stage.activation else ""
        env.say(
            f"{stage.stage.name}{after} {format_shape(stage.stage.shape)}: max {stage.maximum:.3g}, "
            f"zeros {100 * stage.zero_share:.0f}%{which}"
        )
        env.render(block_art(grid(shown, columns_for(shown[0].shape[2], width)), env.color))


def _ranked_channels(stage: StageMaps) -> list[tuple[int, float]]:
    means = stage.maps.mean(axis=(1, 2))
    return sorted(enumerate(means.tolist()), key=lambda pair: -pair[1])

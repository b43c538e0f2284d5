"""`cnn serve`: a trained model over HTTP, with a page to draw a digit on.

The model is loaded once, on the same engine and Predictor as `cnn predict`, and answers
with the same JSON (built here, by predict's and summary's own document functions), so the server
never answers differently from the command line. The core (cnncli/core/serving) runs the server.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer

from cnncli.cli.common import ModelArgument, command
from cnncli.cli.env import Env
from cnncli.core.errors import Interrupted, Terminated

if TYPE_CHECKING:
    from cnncli.core.serving.app import ServedModel

Opt = typer.Option
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@command
def serve(
    env: Env,
    model: ModelArgument = None,
    host: Annotated[str, Opt("--host", help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, Opt("--port", "-p", metavar="N", help="Port to listen on (0: any free one).")] = 8000,
    device: Annotated[str, Opt("--device", metavar="auto|cpu|cuda|cuda:N|mps", help="Where to run it.")] = "auto",
    max_in_flight: Annotated[
        int, Opt("--max-in-flight", min=1, metavar="N", help="Requests answered at once; 503 past them.")
    ] = 8,
    max_body_mib: Annotated[
        float, Opt("--max-body", min=0.001, metavar="MIB", help="Largest request body, in MiB; 413 past it.")
    ] = 10.0,
    timeout: Annotated[
        float, Opt("--timeout", min=0.001, metavar="SECONDS", help="Longest a request may take; 504 past it.")
    ] = 30.0,
    threads: Annotated[
        int | None,
        Opt(
            "--threads",
            min=1,
            metavar="N",
            show_default=False,
            help="CPU threads of the network (default: all cores but one).",
        ),
    ] = None,
    batching: Annotated[
        bool, Opt("--batching/--no-batching", help="Answer requests that wait together in one network call.")
    ] = True,
) -> None:
    """Serve a model over HTTP: POST /predict, GET /model, GET /health, and a page to draw on at /.

    \b
    cnn serve                                   # the latest run's best model, on http://127.0.0.1:8000/
    cnn serve runs/lean-mnist-1 --port 9000
    curl -F image=@digit.png 'http://127.0.0.1:8000/predict?top_k=3'
    """
    from cnncli.core.serving.config import MIB, ServeConfig

    config = ServeConfig(
        host=host,
        port=port,
        max_body=int(max_body_mib * MIB),
        max_in_flight=max_in_flight,
        timeout=timeout,
        batching=batching,
    ).validate()
    served = _load(model, device, config.max_batch_images, threads)
    from cnncli.core.serving.app import build_app
    from cnncli.core.serving.server import run_server

    app = build_app(served, config, log=lambda line: env.say(line))

    def ready(url: str) -> None:
        env.say(f"serving {served.name} at {url} (Ctrl-C to stop)")
        if host not in LOOPBACK:
            env.say(f"warning: listening on {host}: anyone who can reach this machine can use the model")
        if env.json:  # one line, flushed at once: a script (or a test) reads the URL from it
            env.emit_jsonl({"url": url, "model": served.name})
        env.stderr.flush()

    stopped_by = run_server(app, config, ready)
    if stopped_by == signal.SIGTERM:
        raise Terminated("stopped by SIGTERM; the requests in flight were answered")
    if stopped_by == signal.SIGINT:
        raise Interrupted("interrupted; the requests in flight were answered")


def _network_threads() -> int:
    """All cores but one, which the HTTP side (parsing, decoding, JSON) keeps: as predict leaves its
    decoding workers their cores. Left at all cores, torch's threads spin on the core the event loop
    needs: on 2 cores, 8 clients got 11 requests/s rather than 27 (benchmarks/serve_load.py)."""
    import os

    return max(1, (os.cpu_count() or 1) - 1)


def _load(target: str | None, device: str, batch: int, threads: int | None) -> ServedModel:
    """The model, once, on the engine `cnn predict` would pick (ONNX Runtime for an up-to-date export, as the
    bundled models have; torch otherwise): its Predictor keeping every class's probability and the picture
    seen (each request takes its own top_k and show from them), decoding in this process (no workers)."""
    from cnncli.cli.predict import outcome_document
    from cnncli.cli.summary import summary_document
    from cnncli.core.inference.engine import choose_engine
    from cnncli.core.inference.pipeline import PredictSettings
    from cnncli.core.modelfile.summary import SummaryRequest, summarise_model
    from cnncli.core.serving.app import ServedModel

    choice = choose_engine(target, device)
    if choice.onnx_model is not None:  # torch is never imported: ONNX Runtime sized its threads when opened
        from cnncli.core.inference.onnx_predict import OnnxPredictor

        settings = PredictSettings(top_k=len(choice.onnx_model.classes), batch_size=batch, workers=0, keep_seen=True)
        predictor = OnnxPredictor(choice.onnx_model, settings)

        def thread_setup() -> None:
            pass

    else:
        from cnncli.core.inference.model import open_model
        from cnncli.core.inference.predict import Predictor
        from cnncli.core.runtime.device import set_threads

        loaded = open_model(str(choice.path), device)
        settings = PredictSettings(top_k=len(loaded.classes), batch_size=batch, workers=0, keep_seen=True)
        predictor = Predictor(loaded, settings)

        def thread_setup() -> None:
            set_threads(threads or _network_threads())

    description = summary_document(summarise_model(SummaryRequest(str(choice.path))))
    return ServedModel(
        classify=lambda inputs: list(predictor.run(inputs)),
        document=outcome_document,
        description=description,
        name=str(choice.path),
        thread_setup=thread_setup,
    )

"""The torch and ONNX engines see the same thing: the same uint8 pixels for the same image, bit for bit
(one preparation, prepare.py, behind both), and the same answers."""

from __future__ import annotations

import numpy as np
import pytest

from cnncli.core.data.arrays import load_split_arrays
from cnncli.core.inference.inputs import expand_inputs
from cnncli.core.inference.model import open_model
from cnncli.core.inference.onnx_predict import OnnxPredictor
from cnncli.core.inference.pipeline import Failure, PredictSettings
from cnncli.core.inference.predict import Predictor
from cnncli.core.modelfile.onnxfile import open_onnx
from tests.support.photos import PHOTO_LAYOUTS, jpeg_bytes, photo_of


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[str]:
    """MNIST digits as they are (PNG) and as photos of ink on paper (JPEG), and one broken file."""
    _, digits, _ = load_split_arrays("mnist-sample", "test")
    folder = tmp_path_factory.mktemp("both-engines")
    names = []
    for i, layout in enumerate(PHOTO_LAYOUTS * 2):
        from PIL import Image

        Image.fromarray(digits[i, 0]).save(folder / f"{i}-digit.png")
        (folder / f"{i}-photo.jpg").write_bytes(jpeg_bytes(photo_of(digits[i, 0], *layout, seed=i)))
        names += [str(folder / f"{i}-digit.png"), str(folder / f"{i}-photo.jpg")]
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return [*names, str(folder / "broken.png")]


@pytest.mark.parametrize("workers", [0, 2])
def test_both_engines_prepare_the_same_pixels_and_agree(sample_export, images, workers):
    settings = PredictSettings(top_k=3, keep_seen=True, workers=workers, batch_size=5)
    inputs = expand_inputs(images)
    with_torch = list(Predictor(open_model(str(sample_export.model), "cpu"), settings).run(inputs))
    with_onnx = list(OnnxPredictor(open_onnx(sample_export.onnx), settings).run(inputs))
    assert len(with_torch) == len(with_onnx) == len(images)
    for a, b in zip(with_torch, with_onnx, strict=True):
        assert a.name == b.name and type(a) is type(b)
        if isinstance(a, Failure):
            assert a.error == b.error
            continue
        assert a.seen.dtype == b.seen.dtype == np.uint8
        assert a.seen.tobytes() == b.seen.tobytes()  # bit for bit
        assert a.label == b.label and [c for c, _ in a.top] == [c for c, _ in b.top]
        assert abs(a.confidence - b.confidence) < 1e-5

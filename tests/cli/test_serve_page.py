"""The page of `cnn serve` in a real browser (Debian's chromium, driven by Playwright): a 7 drawn with
pointer events is read as 7, the picture the network saw is shown, Clear clears, a photo can be picked.

CI installs chromium before the tests (.ci/run); there, a missing browser fails rather than skips.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from cnncli.core.data import load_split
from tests.support.serving import ServeProcess

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOT_COPY = "CNN_SERVE_SCREENSHOT"  # set to a path to keep the screenshot (the README's docs/serve.png)
# the first test waits for the MNIST model to be trained (conftest's mnist_model): minutes on a busy CPU
pytestmark = pytest.mark.timeout(900)
SEVEN = [(70, 60), (215, 60), (175, 130), (130, 235)]  # canvas pixels: the bar, then the long stroke down-left


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message + " (CI=true: .ci/run installs it)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser, mnist_model):
    with ServeProcess(mnist_model.model) as server:
        tab = browser.new_page(viewport={"width": 1000, "height": 560})
        tab.goto(server.url)
        expect(tab.locator("#model")).to_contain_text("classes")  # the page asked GET /model
        yield tab
        tab.close()
        assert "POST /predict?top_k=3&show=png 200" in server.stderr  # the page's requests, logged


def draw(page, points: list[tuple[int, int]]) -> None:
    box = page.locator("#canvas").bounding_box()
    x0, y0 = box["x"], box["y"]
    page.mouse.move(x0 + points[0][0], y0 + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x0 + x, y0 + y, steps=12)
    page.mouse.up()


def answers(page) -> list[str]:
    """The labels shown once the answer to the newest drawing is in (the list is aria-busy till then)."""
    page.locator("#answers[aria-busy=false] .label").first.wait_for(timeout=30_000)
    return page.locator("#answers .label").all_inner_texts()


def test_a_drawn_seven_is_read_as_seven(page, tmp_path):
    page.click("#clear")
    draw(page, SEVEN)
    labels = answers(page)
    assert "7" in labels, labels
    assert len(labels) == 3
    assert page.get_attribute("#seen", "src").startswith("data:image/png;base64,")
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot))
    assert Image.open(shot).size == (1000, 560)
    if os.environ.get(SCREENSHOT_COPY):
        shutil.copyfile(shot, os.environ[SCREENSHOT_COPY])


def test_clear_empties_the_canvas_and_the_answer(page):
    draw(page, SEVEN)
    answers(page)
    page.click("#clear")
    assert page.locator("#answers .label").count() == 0
    ink = page.evaluate(
        "Array.from(document.getElementById('canvas').getContext('2d').getImageData(0, 0, 280, 280).data)"
        ".filter((v, i) => i % 4 === 0 && v < 128).length"
    )
    assert ink == 0


def test_a_picked_photo_is_predicted(page, mnist_model, tmp_path):
    split = load_split("mnist", "test", mnist_model.data_dir)
    digit = 255 - split.images[0, 0].numpy()  # dark ink on light paper, as a photo; MNIST's first test digit
    path = tmp_path / "photo.png"
    Image.fromarray(np.kron(digit, np.ones((6, 6), dtype=np.uint8))).save(path)
    page.click("#clear")
    page.set_input_files("#file", str(path))
    labels = answers(page)
    assert labels[0] == str(int(split.labels[0])), labels
    seen = page.get_attribute("#seen", "src")
    picture = np.asarray(Image.open(io.BytesIO(__import__("base64").b64decode(seen.split(",", 1)[1]))))
    assert picture.shape == (28, 28) and picture.max() > 200

"""Progress reporters: plain lines are throttled and never use carriage returns."""

from __future__ import annotations

import io

from cnncli.cli.env import Env
from cnncli.cli.progress import PlainReporter, QuietReporter, RichReporter, reporter_for
from cnncli.core.reporting import RecordingReporter


def test_reporter_follows_the_environment():
    assert isinstance(reporter_for(Env(stderr=io.StringIO(), quiet=True)), QuietReporter)
    assert isinstance(reporter_for(Env(stderr=io.StringIO())), PlainReporter)
    assert isinstance(reporter_for(Env(stderr=io.StringIO(), stderr_isatty=True)), RichReporter)


def test_plain_lines_at_most_one_per_decile_and_a_verdict(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("cnncli.cli.progress.time.monotonic", lambda: clock[0])
    stream = io.StringIO()
    reporter = PlainReporter(Env(stderr=stream))
    task = reporter.start("epoch 1/3", total=1000, unit="img")
    for _ in range(1000):
        clock[0] += 0.05  # 50 s in all: a long epoch
        reporter.update(task, advance=1, loss=0.5)
    reporter.finish(task, "loss 0.1")
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert lines[-1] == "epoch 1/3: loss 0.1"
    assert 1 <= len(lines) - 1 <= 5  # at most one line per 10%, and per 10 s of silence
    assert lines[0].startswith("epoch 1/3: 20% (200 of 1,000 img)")  # the first after 10 s
    assert "loss 0.5" in lines[0]


def test_epoch_counters_leave_the_lines_to_their_epochs(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("cnncli.cli.progress.time.monotonic", lambda: clock[0])
    stream = io.StringIO()
    reporter = PlainReporter(Env(stderr=stream))
    task = reporter.start("epochs", total=10, unit="epoch")
    for _ in range(10):
        clock[0] += 60
        reporter.update(task, advance=1)
    assert stream.getvalue() == ""


def test_a_short_task_prints_only_its_verdict():
    stream = io.StringIO()
    reporter = PlainReporter(Env(stderr=stream))
    task = reporter.start("eval", total=100)
    for _ in range(100):
        reporter.update(task, advance=1)
    reporter.finish(task, "done")
    assert stream.getvalue() == "eval: done\n"


def test_rich_reporter_draws_on_stderr():
    stream = io.StringIO()
    env = Env(stderr=stream, stderr_isatty=True)
    with RichReporter(env) as reporter:
        task = reporter.start("train-images.gz", total=2048, unit="B")
        reporter.update(task, advance=2048)
        reporter.finish(task, "verified")
        reporter.message("mirror 1 failed", "warning")
    text = stream.getvalue()
    assert "train-images.gz: verified" in text and "warning: mirror 1 failed" in text


def test_rich_reporter_finishes_the_right_task_when_several_run():
    stream = io.StringIO()
    with RichReporter(Env(stderr=stream, stderr_isatty=True)) as reporter:
        first, second = reporter.start("a.gz", 10, "B"), reporter.start("b.gz", 10, "B")
        reporter.finish(first, "one")
        third = reporter.start("c.gz", 10, "B")
        reporter.finish(second, "two")
        reporter.finish(third, "three")
        assert reporter.progress.tasks == []
    text = stream.getvalue()
    assert "a.gz: one" in text and "b.gz: two" in text and "c.gz: three" in text


def test_recording_reporter_keeps_everything():
    reporter = RecordingReporter()
    task = reporter.start("x", total=3)
    reporter.update(task, advance=2, loss=1.0)
    reporter.finish(task, "ok")
    assert reporter.tasks[0].completed == 2 and reporter.tasks[0].fields == {"loss": 1.0}

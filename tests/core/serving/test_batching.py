"""The queue of inferences in flight: its bound, adaptive batching, timeouts and faults, on a real
event loop and a real inference thread, with a classify function that records its calls."""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncli.core.serving.batching import Busy, InferenceQueue


class Recorder:
    """classify(items) -> the items doubled; each call recorded; `gate` holds calls until set."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.calls.append(list(items))
        self.started.set()
        self.gate.wait(30)
        if -1 in items:
            raise RuntimeError("a fault of ours")
        return [2 * item for item in items]


async def run_queue(recorder: Recorder, body, **options) -> None:
    settings = {"capacity": 8, "batching": True, "max_batch_images": 256, **options}
    queue = InferenceQueue(recorder, **settings)
    await queue.start()
    try:
        await body(queue)
    finally:
        recorder.gate.set()
        await queue.stop()


async def hold_first_call(queue: InferenceQueue, recorder: Recorder) -> asyncio.Task:
    """A first request the inference thread is busy with until recorder.gate is set."""
    recorder.gate.clear()
    first = asyncio.create_task(queue.submit([0], timeout=30))
    await asyncio.to_thread(recorder.started.wait, 30)
    return first


@pytest.mark.parametrize(
    ("batching", "calls"), [(True, [[0], [1, 2, 3, 4, 5, 6]]), (False, [[0], [1, 2], [3, 4], [5, 6]])]
)
def test_requests_that_wait_together_share_one_call_only_with_batching(batching, calls):
    recorder = Recorder()

    async def body(queue: InferenceQueue) -> None:
        first = await hold_first_call(queue, recorder)
        waiting = [asyncio.create_task(queue.submit([i, i + 1], timeout=30)) for i in (1, 3, 5)]
        await asyncio.sleep(0.05)
        assert queue.admitted == 4
        recorder.gate.set()
        assert await first == [0]
        assert [await task for task in waiting] == [[2, 4], [6, 8], [10, 12]]  # each its own, in order
        assert queue.admitted == 0 and queue.requests_done == 4

    asyncio.run(run_queue(recorder, body, batching=batching))
    assert recorder.calls == calls


def test_a_call_never_takes_more_than_max_batch_images():
    recorder = Recorder()

    async def body(queue: InferenceQueue) -> None:
        first = await hold_first_call(queue, recorder)
        waiting = [asyncio.create_task(queue.submit([i] * 3, timeout=30)) for i in (1, 2, 3)]
        await asyncio.sleep(0.05)
        recorder.gate.set()
        await asyncio.gather(first, *waiting)

    asyncio.run(run_queue(recorder, body, max_batch_images=7))
    assert recorder.calls == [[0], [1, 1, 1, 2, 2, 2], [3, 3, 3]]


def test_past_capacity_it_refuses_at_once_and_takes_requests_again_after():
    recorder = Recorder()

    async def body(queue: InferenceQueue) -> None:
        first = await hold_first_call(queue, recorder)
        second = asyncio.create_task(queue.submit([1], timeout=30))
        await asyncio.sleep(0.05)
        for _ in range(5):
            with pytest.raises(Busy):
                await queue.submit([9], timeout=30)
        recorder.gate.set()
        assert await asyncio.gather(first, second) == [[0], [2]]
        assert await queue.submit([4], timeout=30) == [8]

    asyncio.run(run_queue(recorder, body, capacity=2))
    assert [9] not in recorder.calls


def test_a_request_that_times_out_while_queued_is_skipped_and_frees_its_place():
    recorder = Recorder()

    async def body(queue: InferenceQueue) -> None:
        first = await hold_first_call(queue, recorder)
        with pytest.raises(TimeoutError):
            await queue.submit([7], timeout=0.05)
        assert queue.admitted == 2  # its place is given back only once the thread is past it
        recorder.gate.set()
        await first
        assert await queue.submit([1], timeout=30) == [2]
        assert queue.admitted == 0

    asyncio.run(run_queue(recorder, body))
    assert recorder.calls == [[0], [1]]  # the abandoned [7] never reached the network


def test_a_fault_in_a_call_reaches_its_requests_and_the_queue_goes_on():
    recorder = Recorder()

    async def body(queue: InferenceQueue) -> None:
        with pytest.raises(RuntimeError, match="a fault of ours"):
            await queue.submit([-1], timeout=30)
        assert await queue.submit([3], timeout=30) == [6]
        assert queue.admitted == 0

    asyncio.run(run_queue(recorder, body))


@given(st.lists(st.lists(st.integers(0, 1000), min_size=0, max_size=5), min_size=1, max_size=8))
def test_one_call_split_back_gives_each_group_what_a_call_of_its_own_would(groups):
    queue = InferenceQueue(lambda items: [item * 2 for item in items], 8, True, 256)
    try:
        assert queue._run(groups) == [[item * 2 for item in group] for group in groups]
    finally:
        queue._thread.shutdown()

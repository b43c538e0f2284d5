"""The inferences in flight: a bounded queue in front of one inference thread, and adaptive batching.

    queue = InferenceQueue(classify, capacity=8, batching=True, max_batch_images=256)
    await queue.start()
    outcomes = await queue.submit(inputs, timeout=30)   # Busy when `capacity` requests are admitted

One thread runs the network: torch already spreads one call over the cores, and two calls at once
would only fight for them. A request is admitted only while fewer than `capacity` are queued or
running, so the queue is never unbounded; past it the caller answers 503 at once.

Adaptive batching (as BentoML's, without its timer): when the thread comes free, it takes every
request waiting, up to `max_batch_images` images, into one network call. An idle server thus answers
a lone request at once, with no wait for company, and a busy one makes bigger calls, which cost
less per image (the figures are in benchmarks/serve_load.py and the README).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

Classify = Callable[[list[Any]], Sequence[Any]]  # image sources in, one outcome each out, in order


class Busy(Exception):
    """Every place in the queue is taken: answer 503 and let the client retry."""


@dataclass(eq=False)
class _Job:
    inputs: list[Any]
    future: asyncio.Future = field(repr=False)


class InferenceQueue:
    def __init__(
        self,
        classify: Classify,
        capacity: int,
        batching: bool,
        max_batch_images: int,
        thread_setup: Callable[[], None] | None = None,
    ) -> None:
        self.classify = classify
        self.capacity = capacity
        self.batching = batching
        self.max_batch_images = max_batch_images
        self.admitted = 0  # requests queued or running: what the bound counts
        self.calls = 0  # network calls made, and the requests they answered: batching's effect
        self.requests_done = 0
        self._pending: deque[_Job] = deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        # thread_setup runs in the inference thread before its first call: torch's (OpenMP's) thread
        # count is a setting of each thread, so one made in the main thread would not reach it
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="cnn-inference", initializer=thread_setup)

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._worker = asyncio.create_task(self._work())

    async def stop(self) -> None:
        """After the server has drained its requests: end the worker and the inference thread."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._thread.shutdown(wait=True)

    async def submit(self, inputs: list[Any], timeout: float) -> list[Any]:
        """The outcomes of `inputs`, in order; Busy at once when full, TimeoutError after `timeout`."""
        if self.admitted >= self.capacity:
            raise Busy
        assert self._wake is not None, "start() the queue first"
        job = _Job(inputs, asyncio.get_running_loop().create_future())
        self.admitted += 1
        self._pending.append(job)
        self._wake.set()
        # a request that gives up (timeout, client gone) cancels its future: the worker skips the job
        # if it still waits, or drops its answer; either way the worker alone gives its place back,
        # once the inference thread is truly free of it
        return await asyncio.wait_for(job.future, timeout)

    async def _work(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                jobs = self._take()
                if not jobs:  # all that waited gave up
                    break
                try:
                    answers = await loop.run_in_executor(self._thread, self._run, [job.inputs for job in jobs])
                except Exception as error:  # a fault of ours: every request of the call gets it
                    answers = [error] * len(jobs)
                finally:
                    self.admitted -= len(jobs)
                self.calls += 1
                self.requests_done += len(jobs)
                for job, answer in zip(jobs, answers, strict=True):
                    if job.future.done():  # its request gave up
                        continue
                    if isinstance(answer, Exception):
                        job.future.set_exception(answer)
                    else:
                        job.future.set_result(answer)

    def _take(self) -> list[_Job]:
        """The next call's requests: the first waiting, and with batching all that follow while the
        call stays within max_batch_images. Requests that gave up while waiting are dropped here."""
        taken: list[_Job] = []
        images = 0
        while self._pending:
            job = self._pending[0]
            if job.future.done():
                self._pending.popleft()
                self.admitted -= 1
                continue
            if taken and (not self.batching or images + len(job.inputs) > self.max_batch_images):
                break
            taken.append(self._pending.popleft())
            images += len(job.inputs)
        return taken

    def _run(self, groups: list[list[Any]]) -> list[list[Any]]:
        """In the inference thread: one call of the network for every group, split back per group."""
        outcomes = list(self.classify([item for group in groups for item in group]))
        answers, start = [], 0
        for group in groups:
            answers.append(outcomes[start : start + len(group)])
            start += len(group)
        return answers

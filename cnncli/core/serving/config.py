"""What `cnn serve` accepts and how much of it, in one place; the CLI fills it from its options."""

from __future__ import annotations

from dataclasses import dataclass

from cnncli.core.errors import UsageError

MIB = 1 << 20


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"  # loopback unless told otherwise: a model is no public service by default
    port: int = 8000  # 0: any free port (the URL printed says which)
    max_body: int = 10 * MIB  # bytes per request: a phone photo is 3-8 MB; 413 past it
    max_images: int = 128  # images per request: predict's batch, so one request is one network call
    max_in_flight: int = 8  # requests admitted (queued or running) at once; 503 + Retry-After past it
    timeout: float = 30.0  # seconds a request may take in all (body, queue, inference): 408/504 past it
    batching: bool = True  # merge the requests waiting in the queue into one network call
    max_batch_images: int = 256  # the most images one merged call takes (two full requests)
    retry_after: int = 1  # seconds, in the 503's Retry-After: one batch is well under that on a CPU
    graceful_seconds: int = 30  # at SIGINT/SIGTERM, how long requests in flight get to finish

    def validate(self) -> ServeConfig:
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port must be from 0 to 65535, not {self.port}")
        for name, value in (
            ("--max-body", self.max_body),
            ("--max-images", self.max_images),
            ("--max-in-flight", self.max_in_flight),
        ):
            if value < 1:
                raise UsageError(f"{name} must be at least 1, not {value}")
        if not self.timeout > 0:
            raise UsageError(f"--timeout must be more than 0 seconds, not {self.timeout}")
        return self

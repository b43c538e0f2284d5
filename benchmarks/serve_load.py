"""`cnn serve` under load on loopback: N concurrent clients for T seconds, with and without batching.

    python benchmarks/serve_load.py [--model FILE] [--clients 8] [--seconds 10] [--images 1]
                                    [--threads N] [--repeat 3] [--raw-dir ../shared/datasets/mnist]

For each mode (--batching, --no-batching) it starts the real server (`cnn serve MODEL --port 0`),
warms it up, then runs --clients asyncio clients in this process, each posting one MNIST test digit
PNG after another (--images per request, multipart) until --seconds are up; every client stops by
itself at the deadline, so a run is bounded in time. Per run it reports requests/s, images/s, p50 and
p99 latency, the 503s (the designed refusals past --max-in-flight), the errors (anything else: the
goal is none) and the mean requests answered per network call (what batching merged, from /health).
Each figure is the median of --repeat runs. One JSON line per mode on stdout, with the environment
(Python, torch, CPU threads, CPU flags); a table on stderr. Without --model it first trains `fast`
for one epoch into a temporary folder. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from trained import train_fast_mnist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "fma", "neon", "asimd")


def environment() -> dict:
    import torch

    flags: set[str] = set()
    with contextlib.suppress(OSError):  # /proc/cpuinfo is Linux's
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = set(line.split(":", 1)[1].split())
                break
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_flags": sorted(flags & set(CPU_FLAGS)),
    }


def digit_pngs(raw_dir: Path, work: Path, count: int = 200) -> list[bytes]:
    from PIL import Image

    from cnncli.core.data import AcquireRequest, acquire_dataset, load_split
    from cnncli.core.data.catalog import CATALOG

    data_dir = work / "data"
    assert acquire_dataset(CATALOG["mnist"], AcquireRequest(data_dir, source=raw_dir)).ok
    test = load_split("mnist", "test", data_dir)
    pngs = []
    for index in range(count):
        buffer = io.BytesIO()
        Image.fromarray(test.images[index, 0].numpy()).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    return pngs


class Server:
    def __init__(self, model: Path, options: list[str]) -> None:
        command = [sys.executable, "-m", "cnncli", "serve", str(model), "--port", "0", "--json", "-q", *options]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})
        self.url = json.loads(self.process.stdout.readline())["url"]  # type: ignore[union-attr]

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(60)


async def load(url: str, pngs: list[bytes], clients: int, seconds: float, images: int) -> dict:
    latencies: list[float] = []
    counts = {"ok": 0, "busy": 0, "errors": 0}
    deadline = time.perf_counter() + seconds

    async def client(number: int, session: httpx.AsyncClient) -> None:
        sent = number
        while time.perf_counter() < deadline:
            files = [("image", (f"{i}.png", pngs[(sent + i) % len(pngs)], "image/png")) for i in range(images)]
            sent += images
            started = time.perf_counter()
            try:
                reply = await session.post(url + "predict", files=files)
                status = reply.status_code
            except httpx.HTTPError:
                status = -1
            if status == 200:
                counts["ok"] += 1
                latencies.append(time.perf_counter() - started)
            elif status == 503:
                counts["busy"] += 1
                await asyncio.sleep(0.01)  # a polite client backs off (the server says Retry-After: 1)
            else:
                counts["errors"] += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=60) as session:
        before = (await session.get(url + "health")).json()
        started = time.perf_counter()
        await asyncio.gather(*(client(n, session) for n in range(clients)))
        elapsed = time.perf_counter() - started
        after = (await session.get(url + "health")).json()
    latencies.sort()
    calls = after["calls"] - before["calls"]
    return {
        "requests_per_s": counts["ok"] / elapsed,
        "images_per_s": counts["ok"] * images / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else None,
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] if latencies else None,
        "busy_503": counts["busy"],
        "errors": counts["errors"],
        "requests_per_call": (after["requests"] - before["requests"]) / calls if calls else None,
    }


def median_of(runs: list[dict]) -> dict:
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) if runs[0][k] is not None else None for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained MNIST model file (default: train one)")
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--images", type=int, default=1, help="images per request")
    parser.add_argument("--max-in-flight", type=int, default=None, help="the server's bound (default: --clients)")
    parser.add_argument("--threads", type=int, default=None, help="the server's torch threads (default: its own)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bound = args.max_in_flight or args.clients
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        model = args.model or train_fast_mnist(args.raw_dir, work)
        pngs = digit_pngs(args.raw_dir, work)
        setting = {
            "clients": args.clients,
            "seconds": args.seconds,
            "images": args.images,
            "max_in_flight": bound,
            "threads": args.threads or "default",
        }
        for mode in ("--batching", "--no-batching"):
            options = [mode, "--max-in-flight", str(bound)] + (["--threads", str(args.threads)] if args.threads else [])
            server = Server(model, options)
            try:
                asyncio.run(load(server.url, pngs, args.clients, 1.0, args.images))  # warm-up
                runs = [
                    asyncio.run(load(server.url, pngs, args.clients, args.seconds, args.images))
                    for _ in range(args.repeat)
                ]
            finally:
                server.stop()
            result = {"mode": mode.removeprefix("--"), **setting, **median_of(runs), "environment": environment()}
            print(json.dumps(result), flush=True)
            print(
                f"{result['mode']:>12} ({result['threads']} threads): "
                f"{result['requests_per_s']:7.1f} req/s  {result['images_per_s']:7.1f} img/s  "
                f"p50 {result['p50_ms']:6.1f} ms  p99 {result['p99_ms']:6.1f} ms  503s {result['busy_503']}  "
                f"errors {result['errors']}  requests/call {result['requests_per_call'] or 0:.2f}",
                file=sys.stderr,
            )


if __name__ == "__main__":
    main()

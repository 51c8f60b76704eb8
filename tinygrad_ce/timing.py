"""The timing harness shared by ``compare``, ``fused_vs_unfused`` and the benchmarks.

* :func:`median_time`: the median wall time of a callable over a few runs (a warm-up first);
* :class:`Runner`, :func:`time_runners`, :func:`calibrate_number`: several ways of computing
  the same thing, timed in interleaved rounds so a busy machine slows them alike;
* :func:`peak_bytes`: the peak memory tracemalloc sees while a callable runs;
* :func:`held_bytes`: what a callable leaves allocated (a loss: what its graph holds).
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Runner",
    "calibrate_number",
    "held_bytes",
    "median_time",
    "peak_bytes",
    "time_runners",
]


def median_time(fn: Callable[[], Any], repeats: int, warmup: int = 0) -> float:
    """Median seconds of ``repeats`` calls of ``fn()`` (at least one), after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(int(repeats), 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


@dataclass
class Runner:
    """One way of computing the loss: ``forward()`` returns a state, ``backward(state)`` a grad."""

    forward: Callable[[], Any]
    backward: Callable[[Any], Any]


def time_runners(
    runners: dict[str, Runner], repeats: int = 20, number: int = 1
) -> dict[str, dict[str, float]]:
    """Median forward and backward seconds per call of each runner.

    Each of ``repeats`` rounds runs every runner in turn, in a fresh random order (seeded), so
    a slow spell of the machine and the state one runner leaves to the next (freed buffers,
    caches) are shared out evenly: ``number`` forwards timed as one block, then their
    ``number`` backwards. The first round is a warm-up and is not counted. As ``timeit``
    does, the cyclic garbage collector is off while a block runs (it would otherwise charge a
    full collection of every object in the process, e.g. all of an imported torch, to
    whichever call happened to trigger it); it runs between blocks instead.
    """
    names = list(runners)
    samples: dict[str, dict[str, list[float]]] = {k: {"forward": [], "backward": []} for k in names}
    clock = time.perf_counter
    order = np.random.default_rng(0)
    gc_was_enabled = gc.isenabled()
    try:
        for round_ in range(repeats + 1):
            for name in order.permutation(names).tolist():
                run = runners[name]
                gc.collect()
                gc.disable()
                t0 = clock()
                states = [run.forward() for _ in range(number)]
                t1 = clock()
                for state in states:
                    run.backward(state)
                t2 = clock()
                del states
                gc.enable()
                if round_:
                    samples[name]["forward"].append((t1 - t0) / number)
                    samples[name]["backward"].append((t2 - t1) / number)
    finally:
        if gc_was_enabled:
            gc.enable()
        else:
            gc.disable()
    out = {}
    for name, s in samples.items():
        fwd, bwd = float(np.median(s["forward"])), float(np.median(s["backward"]))
        total = float(np.median(np.add(s["forward"], s["backward"])))
        out[name] = {"forward": fwd, "backward": bwd, "total": total}
    return out


def calibrate_number(runner: Runner, target_seconds: float = 2e-3) -> int:
    """How many calls make one timed block last about ``target_seconds`` (at least 1)."""
    t0 = time.perf_counter()
    runner.backward(runner.forward())
    once = time.perf_counter() - t0
    return max(1, min(1000, int(target_seconds / max(once, 1e-7))))


@contextlib.contextmanager
def _tracing() -> Iterator[None]:
    """tracemalloc on for the block (left as it was found: on stays on)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        yield
    finally:
        if not was_tracing:
            tracemalloc.stop()


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak memory traced by tracemalloc while ``fn()`` runs (numpy buffers included)."""
    with _tracing():
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del result
    return max(peak - start, 0)


def held_bytes(forward: Callable[[], Any]) -> tuple[Any, int]:
    """Run ``forward()`` and return ``(its result, bytes it left allocated)`` (tracemalloc).

    With a loss as the result this is the memory the graph holds for the backward pass: every
    buffer made during the forward that is still referenced once it has returned.
    """
    with _tracing():
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        result = forward()
        held = tracemalloc.get_traced_memory()[0] - start
    return result, max(held, 0)

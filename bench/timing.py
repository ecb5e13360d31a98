"""Timing helper shared by the benchmarks."""
import time


def best_of(function, repeats, warmup=1):
    """Runs `function` warmup times untimed, then `repeats` times; returns the fastest run in seconds."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)

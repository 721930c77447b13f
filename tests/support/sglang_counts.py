"""sglang's own shard counts and the corpus suites they apply to: the benchmark's baseline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from generator.registration import Registration


def cuda_suite_durations(registrations: Iterable[Registration]) -> dict[str, dict[str, float]]:
    """suite -> path -> est_time of every enabled CUDA registration, whether or not the
    config runs the suite (the 45 non-empty CUDA suites of the corpus), by suite name."""
    suites: dict[str, dict[str, float]] = defaultdict(dict)
    for reg in registrations:
        if reg.backend == "cuda" and reg.enabled:
            suites[reg.suite][reg.path] = reg.est_seconds
    return {name: dict(sorted(suites[name].items())) for name in sorted(suites)}


def sglang_shard_count(facts: dict | None) -> int:
    """`partitions.static_estimate.size`, else `partitions.size`, else 1 (not dispatched)."""
    partitions = (facts or {}).get("partitions") or {}
    return (partitions.get("static_estimate") or {}).get("size") or partitions.get("size") or 1


def sglang_shard_counts(sglang_suites: dict, names: Iterable[str]) -> dict[str, int]:
    return {name: sglang_shard_count(sglang_suites["suites"].get(name)) for name in names}

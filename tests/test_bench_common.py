"""The timing helpers `make bench` reports with: paired, interleaved rounds and their medians."""

from __future__ import annotations

from benchmarks.common import paired_ratio, paired_rounds, spread


def test_every_round_runs_every_command_once_in_a_rotated_order():
    calls: list[str] = []
    samples = paired_rounds(3, {name: (lambda name=name: calls.append(name)) for name in ("a", "b", "c")})
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert {name: len(values) for name, values in samples.items()} == {"a": 3, "b": 3, "c": 3}


def test_the_speed_up_is_the_median_of_the_ratios_within_each_round():
    # A loaded second round slows both sides: paired, it still reads as 10x; unpaired medians would not.
    baseline, candidate = [1.0, 4.0, 1.2], [0.1, 0.4, 0.1]
    assert paired_ratio(baseline, candidate) == 10.0
    assert spread(candidate) == "0.100 (0.100-0.400)"

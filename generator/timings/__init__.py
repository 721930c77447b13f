"""Measured durations: reading CI results, estimating per-file time and setup, the timings file."""

"""Replay CI history: plan each run from the earlier ones, judge the plan by that run."""

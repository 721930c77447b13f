"""The `/rerun-test` comment command: parse and validate, permission policy, gate and report."""

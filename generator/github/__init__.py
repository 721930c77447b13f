"""The GitHub REST API: one stdlib client (generator/shipped/github_api.py), every answer
validated before use (/rerun-test, `cigen audit`, the timings loop)."""

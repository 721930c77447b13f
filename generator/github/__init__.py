"""The GitHub REST API, through `requests`: one client, every answer validated before use
(/rerun-test, `cigen audit`, the timings loop)."""

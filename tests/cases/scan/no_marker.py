# expect: no_marker.py:1: no-marker: no register_<backend>_ci(...) call at top level
# expect:   help: register the file, e.g. register_cuda_ci(est_time=60, suite=...), or exclude it under tests.exclude in cigen.yml
def helper():
    register_cuda_ci(est_time=60, suite="nested-is-not-top-level")


if __name__ == "__main__":
    helper()

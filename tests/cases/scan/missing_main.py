# expect: missing_main.py:5: missing-main: no `if __name__ == "__main__":` block that runs the tests; `python3 FILE` would exit green without running anything
# expect:   help: add `if __name__ == "__main__": unittest.main()` (or sys.exit(pytest.main([__file__])))
from sglang.test.ci.ci_register import register_cuda_ci

register_cuda_ci(est_time=60, suite="nightly-1-gpu", nightly=True)

if __name__ == "__main__":
    pass  # calls nothing, so `python3 missing_main.py` runs no test

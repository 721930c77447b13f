"""Weight-checker end to end against a real sglang server.

PLACEHOLDER until issue 6 lands: the registration below is final (this file is what the
repo's own nightly workflow runs); the test body is not written yet and skips.
"""

import unittest

try:
    from sglang.test.ci.ci_register import register_cuda_ci
except Exception:  # collected on machines without sglang: the marker is a no-op anyway
    def register_cuda_ci(*args, **kwargs):
        return None


register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)


@unittest.skip("weight-checker e2e not implemented yet (issue 6)")
class TestWeightCheckerE2E(unittest.TestCase):
    def test_placeholder(self):
        pass


if __name__ == "__main__":
    unittest.main()

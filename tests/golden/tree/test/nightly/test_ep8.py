"""Fixture test file for the golden render."""

import unittest

from sglang.test.ci.ci_register import register_cuda_ci

register_cuda_ci(est_time=1800, suite="nightly-8-gpu", nightly=True)


class TestFixture(unittest.TestCase):
    def test_nothing(self):
        pass


if __name__ == "__main__":
    unittest.main()

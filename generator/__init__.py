"""cigen: plan and generate GitHub Actions CI for GPU-heavy Python test suites."""

__version__ = "0.1.0"

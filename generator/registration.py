"""A registration: one `register_<backend>_ci(...)` call, as the scan found it.

Its own module, apart from the config's types (generator/model.py): `cigen scan` needs this one
and none of those.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Registration:
    """One top-level `register_<backend>_ci(...)` call in a test file."""

    path: str  # posix, relative to the scanned root
    line: int
    backend: str  # lower case: cuda, amd, cpu, npu, ...
    est_seconds: float
    suite: str  # the effective suite: `suite=` or f"{stage}-test-{runner_config}"
    stage: str | None = None
    runner_config: str | None = None
    nightly: bool = False
    disabled: str | None = None  # the reason, when disabled

    @property
    def enabled(self) -> bool:
        return self.disabled is None

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        return (self.path, self.line, self.backend, self.suite)

    def to_json(self) -> dict:
        """The `cigen scan --format json` shape (sglang's field names)."""
        return {
            "file": self.path,
            "lineno": self.line,
            "backend": self.backend,
            "est_time": self.est_seconds,
            "suite": self.suite,
            "stage": self.stage,
            "runner_config": self.runner_config,
            "nightly": self.nightly,
            "disabled": self.disabled,
        }

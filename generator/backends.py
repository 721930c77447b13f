"""Every CI backend cigen knows, in one table: its marker function and how its GPUs are checked.

Adding a backend (say sglang grows `register_tpu_ci`) is one entry here plus its pools and
suites in cigen.yml: the scanner reads its marker, the config schema accepts its name (the
schema's enum is filled from this table), and `tests/test_backends.py` checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """One accelerator family whose tests register with `register_<name>_ci(...)`."""

    name: str  # as suites and registrations spell it: cuda, amd, ...
    gpu_check: str | None = None  # the tool the shard runner's preflight runs; None: no preflight

    @property
    def marker(self) -> str:
        return f"register_{self.name}_ci"


BACKENDS: tuple[Backend, ...] = (
    Backend("cpu"),
    Backend("cuda", gpu_check="nvidia-smi"),
    Backend("amd"),
    Backend("musa"),
    Backend("npu"),
    Backend("xpu"),
    Backend("mlx"),
    Backend("mps"),
    Backend("ppu"),
)
DEFAULT_BACKEND = "cuda"  # what a config plans when it names no `backends`, and a suite's default

MARKERS: dict[str, str] = {backend.marker: backend.name for backend in BACKENDS}  # marker -> name
BY_NAME: dict[str, Backend] = {backend.name: backend for backend in BACKENDS}

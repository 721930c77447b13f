"""sglang's own `ci_register.py` (0.5.23), loaded by path as the scanner's oracle.

`import sglang` would pull in torch and half of sglang's dependencies; the wheel is
installed with --no-deps and only this one dependency-free file is executed.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

SGLANG_VERSION = "0.5.23"


@cache
def ci_register() -> ModuleType:
    spec = importlib.util.find_spec("sglang")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"sglang=={SGLANG_VERSION} is not installed; `make test` installs it with "
            f"`pip install --no-deps sglang=={SGLANG_VERSION}`"
        )
    path = Path(spec.submodule_search_locations[0]) / "test" / "ci" / "ci_register.py"
    module_spec = importlib.util.spec_from_file_location("sglang_ci_register_oracle", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def sglang_files(root: Path) -> list[str]:
    """The files sglang's run_suite.py collects: registered/**/*.py minus its exclusions."""
    import glob
    import os

    return [
        f
        for f in glob.glob(os.path.join(root, "test", "registered", "**", "*.py"), recursive=True)
        if not f.endswith("/conftest.py") and not f.endswith("/__init__.py") and not f.endswith("/cpu/utils.py")
    ]

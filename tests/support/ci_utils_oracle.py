"""sglang's own `ci_utils.py` (0.5.23), loaded by path as the shard runner's oracle.

Its three sglang imports (a CUDA core-dump helper, kill_process_tree, CIRegistry) pull in torch and
half of sglang; they are replaced by small stand-ins while the one file is executed, so its pattern
lists, `is_retriable_failure` and `run_unittest_files` (the TIMINGS block) run for real. The GPU-idle
constants live in test_utils.py, which needs torch: they are read from its syntax tree.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
import signal
import sys
import types
from functools import cache
from pathlib import Path
from unittest import mock

from tests.support.oracle import SGLANG_VERSION

ORACLE_NAME = "sglang_ci_utils_oracle"


def sglang_test_dir() -> Path:
    spec = importlib.util.find_spec("sglang")  # finds the package without running it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"sglang=={SGLANG_VERSION} is not installed; `make .venv/.test` installs it with --no-deps")
    return Path(spec.submodule_search_locations[0]) / "test"


def _kill_process_tree(pid: int, **_options) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stand_ins() -> dict[str, types.ModuleType]:
    coredump = types.SimpleNamespace(is_enabled=lambda: False, cleanup_dump_dir=lambda: None, report=lambda: None)
    debug_utils = types.ModuleType("sglang.srt.debug_utils")
    debug_utils.cuda_coredump = coredump
    common = types.ModuleType("sglang.srt.utils.common")
    common.kill_process_tree = _kill_process_tree
    register = types.ModuleType("sglang.test.ci.ci_register")
    register.CIRegistry = type("CIRegistry", (), {})
    return {
        "sglang.srt.debug_utils": debug_utils,
        "sglang.srt.utils.common": common,
        "sglang.test.ci.ci_register": register,
    }


@cache
def ci_utils() -> types.ModuleType:
    """The module, executed with stand-ins for its sglang imports and without its logging.basicConfig."""
    path = sglang_test_dir() / "ci" / "ci_utils.py"
    module_spec = importlib.util.spec_from_file_location(ORACLE_NAME, path)
    module = importlib.util.module_from_spec(module_spec)
    with mock.patch.dict(sys.modules, _stand_ins()), mock.patch.object(logging, "basicConfig"):
        module_spec.loader.exec_module(module)
    return module


@cache
def gpu_idle_constants() -> dict[str, float]:
    """test_utils.py's `_GPU_IDLE_*` module constants (before each setUpClass: wait for idle GPUs)."""
    tree = ast.parse((sglang_test_dir() / "test_utils.py").read_text())
    constants = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name.startswith("_GPU_IDLE_"):
                constants[name] = eval(compile(ast.Expression(node.value), "test_utils.py", "eval"), {})  # e.g. 2 << 30
    return constants

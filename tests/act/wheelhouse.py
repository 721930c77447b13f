"""cigen and its runtime dependencies as wheels, and a hash-pinned requirements file naming them.

The /rerun-test gate and report jobs install cigen with `pip install --require-hashes -r FILE`
(workflows.cigen_requirements). The act scenarios build cigen's wheel from a copy of this checkout
once per test session, take its dependencies from .venv/wheelhouse (downloaded by
`make .venv/.test`, the one time the network is used) and run act with `offline_pip_env`, so pip
reads no configuration file and reaches no index: every package comes from the wheelhouse.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.act.fixture import REPO_ROOT
from tests.act.harness import ActError

DEPENDENCY_WHEELS = Path(sys.executable).parent.parent / "wheelhouse"
PACKAGE_FILES = ("pyproject.toml", "README.md", "generator", "templates")  # what setuptools needs to build cigen


def build_wheelhouse(folder: Path) -> Path:
    """folder/wheels: cigen's wheel, built from a copy of the checkout, and its dependencies' wheels."""
    wheels = folder / "wheels"
    if not DEPENDENCY_WHEELS.is_dir() or not any(DEPENDENCY_WHEELS.glob("*.whl")):
        raise ActError(f"no dependency wheels in {DEPENDENCY_WHEELS}: run `make .venv/.test` (it downloads them)")
    source = folder / "cigen-src"
    for name in PACKAGE_FILES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(wheels),
        str(source),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        raise ActError(f"building cigen's wheel failed: {done.stderr.strip()[-2000:]}")
    for wheel in DEPENDENCY_WHEELS.glob("*.whl"):
        shutil.copy2(wheel, wheels / wheel.name)
    return wheels


def hashed_requirements(wheels: Path) -> str:
    """One `name==version --hash=sha256:...` line per wheel, as --require-hashes wants every one."""
    lines = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        lines.append(f"{name}=={version} --hash=sha256:{digest}")
    return "\n".join(lines) + "\n"


def offline_pip_env(wheels: Path) -> dict[str, str]:
    """--env for an act run whose steps may pip install: the wheelhouse only, no config, no index."""
    return {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_CONFIG_FILE": os.devnull,  # no /etc/pip.conf: its extra index and constraints stay out
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }

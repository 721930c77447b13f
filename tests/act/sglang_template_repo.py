"""A fixture configured by the sglang template itself: `cigen init --template sglang`'s `workflows`,
`builds` and `defaults` sections verbatim, and a few of its pools and suites (their template
settings, `needs` cut to the suites kept), over recording test files (tests/act/fixture.py).

What the template's shell lines call is stubbed by scripts that append a record to the harness's
records file (kind "script": which script ran, in which job, with what it saw): sglang's install
script (CUSTOM_BUILD_SGL_KERNEL and the wheels in sgl-kernel/dist/), the venv clean-up, the DeepGEMM
warm-up and sgl-kernel/build.sh (which writes a wheel). One substitution: the core-dump folder
/tmp/sglang_cuda_coredumps becomes `coredumps` in the workspace, so concurrent runs on one machine
never share it (the template's hooks are otherwise unchanged).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from generator.config_document import default_config_text
from tests.act.fixture import FixtureRepo, git, make_repo, recording_test, render_and_commit

POOLS = ("1-gpu-5090", "1-gpu-h100", "4-gpu-b200", "8-gpu-h200", "8-gpu-b200", "x64-kernel-build-node")
RUNNER_CONFIGS = ("1-gpu-small", "1-gpu-large", "4-gpu-b200", "8-gpu-h200")
SUITES = (
    "base-a-test-1-gpu-small",
    "base-b-test-1-gpu-small",
    "base-b-test-4-gpu-b200",
    "base-c-test-8-gpu-h200",
    "extra-a-test-1-gpu-large",
    "base-b-kernel-unit-test-1-gpu-large",
    "nightly-1-gpu",
    "nightly-precision-8-gpu-h200",
    "nightly-8-gpu-common",
)
TEMPLATE_COREDUMPS, FIXTURE_COREDUMPS = "/tmp/sglang_cuda_coredumps", "coredumps"
SMALL, LARGE = 'runner_config="1-gpu-small"', 'runner_config="1-gpu-large"'
# Test file -> its registration (est_time sets the shards: base-b small gets three).
FILES = {
    "test/registered/core/test_import.py": f'register_cuda_ci(est_time=30, stage="base-a", {SMALL})',
    "test/registered/core/test_smoke.py": f'register_cuda_ci(est_time=60, stage="base-a", {SMALL})',
    "test/registered/core/test_batch.py": f'register_cuda_ci(est_time=1000, stage="base-b", {SMALL})',
    "test/registered/core/test_generate.py": f'register_cuda_ci(est_time=1000, stage="base-b", {SMALL})',
    "test/registered/core/test_sampling.py": f'register_cuda_ci(est_time=1000, stage="base-b", {SMALL})',
    "test/registered/b200/test_fp4.py": 'register_cuda_ci(est_time=100, stage="base-b", runner_config="4-gpu-b200")',
    "test/registered/h200/test_dsv3.py": 'register_cuda_ci(est_time=100, stage="base-c", runner_config="8-gpu-h200")',
    "test/registered/extra/test_mixed_chunk.py": f'register_cuda_ci(est_time=300, stage="extra-a", {LARGE})',
    "test/registered/jit/test_rmsnorm.py": (
        'register_cuda_ci(est_time=120, suite="base-b-kernel-unit-test-1-gpu-large")'
    ),
    "test/registered/nightly/test_accuracy.py": 'register_cuda_ci(est_time=600, suite="nightly-1-gpu", nightly=True)',
    "test/registered/nightly/test_perplexity.py": (
        'register_cuda_ci(est_time=600, suite="nightly-1-gpu", nightly=True)'
    ),
    # nightly=False in a nightly suite: sglang's run_suite.py --nightly never runs it; nor does the template.
    "test/registered/nightly/test_not_nightly.py": 'register_cuda_ci(est_time=60, suite="nightly-1-gpu")',
    "test/registered/precision/test_baseline.py": (
        'register_cuda_ci(est_time=600, suite="nightly-precision-8-gpu-h200", nightly=True)'
    ),
    # Runs on both 8-GPU pools, as sglang's nightly-test-general-8-gpu-h200 and -b200 jobs run it.
    "test/registered/8-gpu-models/test_common.py": (
        'register_cuda_ci(est_time=600, suite="nightly-8-gpu-common", nightly=True)'
    ),
}
PER_COMMIT_FILES = tuple(path for path, mark in FILES.items() if 'suite="nightly' not in mark)
FAILING = "test/registered/core/test_generate.py"

# A stand-in for one of sglang's CI scripts: appends what it saw to the harness's records file.
SCRIPT = """#!/bin/sh
# Stand-in for sglang's {name} (tests/act/sglang_template_repo.py): records that it ran.
wheels=$(ls "$GITHUB_WORKSPACE"/sgl-kernel/dist 2>/dev/null | tr '\\n' ' ')
python3 -c 'import json, os, sys
print(json.dumps({{"kind": "script", "action": sys.argv[1], "job": os.environ.get("GITHUB_JOB", ""),
  "workspace": os.environ.get("GITHUB_WORKSPACE", ""), "shard": os.environ.get("SHARD"), "args": sys.argv[3:],
  "inputs": {{"custom_build": os.environ.get("CUSTOM_BUILD_SGL_KERNEL", ""), "wheels": sys.argv[2].split()}}}}))' \\
  {name} "$wheels" "$@" >> "$CIGEN_ACT_RECORDS"
{extra}"""
BUILD_EXTRA = 'mkdir -p dist && touch "dist/sgl_kernel-0.0.0+cu$2-cp310-abi3-linux_x86_64.whl"\n'
COREDUMP_TEST = '''"""A failing test that leaves a CUDA core dump behind, as SGLANG_CUDA_COREDUMP=1 would."""

{mark}

import os
import sys

if __name__ == "__main__":
    folder = os.path.join(os.environ["GITHUB_WORKSPACE"], "coredumps")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "core.4242"), "w") as core:
        core.write("fake core dump\\n")
    print("AssertionError: the kernel crashed", flush=True)
    sys.exit(1)
'''
STUB = '''

def register_cuda_ci(*_arguments, **_registration):
    """Stands in for sglang's marker: cigen reads the call below without importing this file."""
'''


def fixture_config() -> str:
    """The template's workflows, builds and defaults, and its settings for the pools and suites kept."""
    template = yaml.safe_load(default_config_text())
    suites = {}
    for name in SUITES:
        suite = dict(template["suites"][name])
        if "needs" in suite:
            suite["needs"] = [need for need in suite["needs"] if need in SUITES]
        suites[name] = suite
    config = {
        "version": 1,
        "tests": template["tests"],
        "backends": template["backends"],
        "schedule": template["schedule"],
        "pools": {name: template["pools"][name] for name in POOLS},
        "runner_configs": {name: template["runner_configs"][name] for name in RUNNER_CONFIGS},
        "builds": template["builds"],
        "defaults": template["defaults"],
        "suites": suites,
        "workflows": template["workflows"],
    }
    text = yaml.safe_dump(config, sort_keys=False, width=120)
    header = "# The sglang template's mechanisms on a small tree (tests/act/sglang_template_repo.py).\n"
    return header + text.replace(TEMPLATE_COREDUMPS, FIXTURE_COREDUMPS)


def script(name: str, extra: str = "") -> str:
    return SCRIPT.format(name=name, extra=extra)


def fixture_test_file(path: str, behavior: str = "pass") -> str:
    """A recording test file with its registration, or the core-dumping failure."""
    if behavior == "coredump":
        return f'"""{path}"""\n{STUB}\n' + COREDUMP_TEST.format(mark=FILES[path])
    return recording_test(path, behavior, [FILES[path]])


def fixture_files() -> dict[str, str]:
    files = {
        "cigen.yml": fixture_config(),
        "python/sglang/srt/server.py": "# the server\n",
        "python/sglang/jit_kernel/rmsnorm.py": "# a JIT kernel\n",
        "sgl-kernel/csrc/gemm.cu": "// a kernel\n",
        "sgl-kernel/build.sh": script("sgl-kernel/build.sh", BUILD_EXTRA),
        "scripts/ci/cuda/ci_install_dependency.sh": script("ci_install_dependency.sh"),
        "scripts/ci/cuda/ci_cleanup_venv.sh": script("ci_cleanup_venv.sh"),
        "scripts/ci/cuda/warmup_deep_gemm.py": (
            "import os, sys\n"
            "os.execvp('sh', ['sh', os.path.join(os.path.dirname(__file__), 'record.sh'), *sys.argv[1:]])\n"
        ),
        "scripts/ci/cuda/record.sh": script("warmup_deep_gemm.py"),
        "README.md": "# fixture\n",
    }
    files.update({path: fixture_test_file(path) for path in FILES})
    return files


def make_sglang_template_repo(path: Path) -> FixtureRepo:
    """The fixture, rendered by cigen and committed on main (build.sh executable, as in sglang)."""
    repo = make_repo(path, fixture_files())
    (repo.path / "sgl-kernel/build.sh").chmod(0o755)
    git(repo.path, "add", "-A")
    repo.commit({}, "build.sh is executable")
    return render_and_commit(repo)


def script_runs(records: Path) -> list[dict]:
    """Every stand-in script run of an act run, from its records file."""
    lines = records.read_text().splitlines() if records.is_file() else []
    return [entry for entry in map(json.loads, lines) if entry.get("kind") == "script"]

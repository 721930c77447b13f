"""Names in generated workflows that other code depends on: job ids, job names, step names.

`render` writes them, `config` checks that suites cannot make two jobs with one id, and the
/rerun-test report finds its jobs and steps by them: one definition for all three.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from generator.shipped.plan_file import PLAN_PATH

GENERATED_MARK = "# @generated from templates/"  # how every generated workflow starts
# How other generated files start: a Python file's first comment, a JSON file's first key.
GENERATED_PREFIXES = ("# @generated ", '{\n  "@generated": ')

GATE_JOB = "gate"  # decides which suites a run starts (ci_gate.py decide)
FINISH_JOB = "finish"  # the one required check (ci_gate.py finish)
FINISH_JOB_NAME = "Result"  # its name: its failure only repeats the others' (the re-dispatch ignores it)
RESERVED_JOBS = (GATE_JOB, FINISH_JOB)

# Files cigen writes beside the workflows, relative to .github/, and how jobs reach them.
PLAN_FILE = PurePosixPath(PLAN_PATH).relative_to(".github").as_posix()  # defined in plan_file
RUNNER_FILE = "cigen/run_shard.py"
GATE_FILE = "cigen/ci_gate.py"
RESULTS_ARTIFACT = "cigen-results"  # prefix of every shard's results artifact
RESULTS_FILE = "cigen-results.json"  # what a shard's runner writes to $RUNNER_TEMP, and its artifact holds

RERUN_TEST_STEP = "Run the test"  # the /rerun-test jobs' step whose duration the report shows
RERUN_POLICY_PATH = ".github/rerun-test-policy.yml"  # compiled by `cigen render` into the registry
RERUN_REGISTRY_FILE = "cigen/rerun-test.json"  # what /rerun-test may run, and who may ask (the gate reads it)
RERUN_PROGRAM = "cigen/rerun_gate.py"  # the shipped /rerun-test gate and report


def id_part(name: str) -> str:
    """A suite or pool name with only the characters a job id may hold."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name)


def job_id(name: str) -> str:
    """A GitHub job id for a suite: letters, digits, `-`, `_`; no leading digit."""
    safe = id_part(name)
    return safe if re.match(r"[A-Za-z_]", safe) else f"_{safe}"


def shard_job_ids(suite: str, pools: tuple[str, ...]) -> list[str]:
    """A suite's shard jobs: one, named like the suite, or one per pool when it runs on several."""
    if len(pools) == 1:
        return [job_id(suite)]
    return [f"{job_id(suite)}-{id_part(pool)}" for pool in pools]


def model_job_id(suite: str, pool: str) -> str:
    """The job that runs a suite's model tests on one pool."""
    return f"{job_id(suite)}-models-{id_part(pool)}"


def build_job_id(build: str) -> str:
    """The per-commit job of a build (builds: in cigen.yml)."""
    return f"build-{id_part(build)}"


def rerun_job_id(suite: str, pool: str) -> str:
    """The /rerun-test job for one suite on one pool: the same job as CI's for them."""
    return f"rerun-{id_part(suite)}-on-{id_part(pool)}"


def is_generated(path: Path) -> bool:
    """A file cigen wrote: it starts with a `@generated` header."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(max(len(prefix) for prefix in GENERATED_PREFIXES))
    except OSError:
        return False
    return head.startswith(GENERATED_PREFIXES)

"""The job-started hook script for one pool's runners: the shard runner's health probes, with the
pool's settings from cigen.yml, run before every job (ACTIONS_RUNNER_HOOK_JOB_STARTED).

Operators install it beside a copy of `.github/cigen/health.py` (docs/runners.md). The options
are the ones the pool's shard steps pass (generator/render/jobs.py), so the hook and the
preflight can never disagree about what healthy means.
"""

from __future__ import annotations

import shlex

from generator.backends import BY_NAME
from generator.model import Config, Pool
from generator.render.jobs import health_env, health_options, preflight_options


def pool_checks_gpus(config: Config, pool: Pool) -> bool:
    """A suite of a backend whose runner checks nvidia-smi runs on this pool."""
    return pool.gpus > 0 and any(
        BY_NAME[suite.backend].gpu_check == "nvidia-smi" for suite in config.suites.values() if pool.name in suite.pools
    )


def hook_script(config: Config, pool: Pool) -> str:
    """A bash script: exports the drain command and probes, then runs health.py beside it."""
    options = []
    if pool_checks_gpus(config, pool):
        options += [f"--gpus {pool.gpus}", *preflight_options(pool.preflight)]
    options += health_options(pool.health)
    if pool.health.disk_path is None:
        options.append('--disk-path "${GITHUB_WORKSPACE:-$PWD}"')
    record = '--record "${CIGEN_HEALTH_RECORDS:-/var/log/cigen}/health-${GITHUB_RUN_ID:-0}-${GITHUB_JOB:-job}.json"'
    lines = [
        "#!/usr/bin/env bash",
        f"# cigen's job-started health hook for the runners of pool {pool.name!r} ({', '.join(pool.labels)}).",
        f"# Written by `cigen runner-hook {pool.name}` from {config.source}; docs/runners.md says how to install it:",
        "# this file and .github/cigen/health.py in one folder, ACTIONS_RUNNER_HOOK_JOB_STARTED=<this file>",
        "# in the runner's .env. A failed probe fails the job as infra and drains the runner.",
        "set -euo pipefail",
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in health_env(pool.health).items()]
    command = ['exec python3 "$(dirname "$0")/health.py" check', *options, record]
    lines.append(" \\\n  ".join(command))
    return "\n".join(lines) + "\n"

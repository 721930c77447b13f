"""`cigen init`: a commented starter cigen.yml for a repository that has none.

`minimal` scans the tree for registrations and writes one suite per suite name found (nightly
when its files say nightly=True), one pool per runner_config (else a single `gpu` pool), and
the settings a maintainer must review marked TODO; `sglang` is the embedded default with a TODO
above every decision only sglang's maintainers can make (generator/todos.py places them). Either
text is parsed back as a config before it is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from generator.config import parse_config
from generator.config_document import default_config_text
from generator.registration import Registration
from generator.todos import Mark, mark_todos

TEMPLATES = ("minimal", "sglang")

HEADER = """\
# cigen configuration, written by `cigen init`: review every TODO, then `cigen lint` and
# `cigen render`. Schema: generator/data/cigen.schema.json; every key is in README.md.
version: 1

tests:
  include: [{include}]
  exclude: ["**/conftest.py", "**/__init__.py"]

backends: [cuda]

schedule:
  nightly_cron: "0 3 * * *"  # TODO: when nightly suites run (UTC)

# A pool is a set of interchangeable self-hosted runners, addressed by their labels.
pools:
"""

POOL = """\
  {name}:
    labels: [{name}]  # TODO: the runs-on labels of these runners
    gpus: 1  # TODO: GPUs per runner
    setup_minutes: 2  # checkout and install before the first test; `cigen timings calibrate` measures it
"""

SUITE = """\
  {name}:
    trigger: {trigger}
    pools: [{pool}]
    step_timeout_minutes: {step}
    shard_budget_minutes: {budget}  # test time per shard; more shards when the suite is longer
    max_parallel: 4  # at most this many shards (runners at once)
"""

FOOTER = """
workflows:
  setup: ["pip install -e ."]  # TODO: how a GPU runner installs this project
  triggers:  # TODO: which events run every per-commit suite (push to branches, schedule crons, dispatch)
    push: true
    dispatch: true
  # Pull requests run the GPU suites only when labelled run-ci, never as drafts.
  pull_requests:
    label: run-ci
    skip_drafts: true
    gated_off: pass  # TODO: fail turns the required check red for a draft or unlabelled pull request
  # /rerun-test comments work as is. Pin cigen by commit for the timings loop:
  # cigen_package: git+https://github.com/OWNER/cigen@<40-hex sha>
  branches: [main]
"""

# The decisions in the sglang template that only sglang's maintainers can make; the repository
# variables and secrets its jobs read are marked too (generator/todos.py finds them).
SGLANG_MARKS = (
    Mark(
        (),
        "switch off the hand-written workflows these replace (pr-test.yml, pr-test-extra.yml, "
        "nightly-test-nvidia.yml, weekly-test-nvidia.yml, stress-test.yml; keep pr-gate.yml, which other "
        "backends call) once cigen's have run beside them; until then both run and only theirs is required",
    ),
    Mark(("schedule", "nightly_cron"), "when the nightly suites run (UTC; sglang: 14:00 every other day)"),
    Mark(("pools",), "keep the pools whose labels your self-hosted runners register (sglang's runner fleet)"),
    Mark(("builds", "sgl-kernel", "pool"), "the runners that build sgl-kernel's wheels (no GPU needed)"),
    Mark(
        ("workflows",),
        "the timings loop (cigen-timings.yml) needs cigen pinned by commit; /rerun-test needs nothing: "
        "cigen_package: git+https://github.com/OWNER/cigen@<40-hex sha>",
    ),
    Mark(
        ("workflows", "triggers"),
        "which events run every per-commit suite (sglang: the twice-daily schedule and dispatch, no push)",
    ),
    Mark(
        ("workflows", "pull_requests", "label"),
        "who may add run-ci decides who spends GPU time (on GitHub: triage permission and up)",
    ),
    Mark(
        ("workflows", "pull_requests", "gated_off"),
        'fail: a draft or unlabelled pull request cannot merge once the check "Result" (job finish) is '
        "required in branch protection, in place of pr-test-finish in sglang's protected job names",
    ),
    Mark(
        ("workflows", "throttle", "lift_label"),
        "the label that runs every shard of a pull request at once (sglang: high priority)",
    ),
    Mark(("defaults", "retries"), "retries of accuracy failures and timeouts (sglang's CUDA CI: none)"),
)


def suites_of(registrations: Sequence[Registration]) -> dict[str, tuple[str, str]]:
    """Each registered suite (enabled CUDA registrations) -> (trigger, pool), in name order."""
    nightly: dict[str, bool] = defaultdict(bool)
    pools: dict[str, str] = {}
    for reg in registrations:
        if reg.backend != "cuda" or not reg.enabled:
            continue
        nightly[reg.suite] |= reg.nightly
        pools.setdefault(reg.suite, reg.runner_config or "gpu")
    return {suite: ("nightly" if nightly[suite] else "per-commit", pools[suite]) for suite in sorted(pools)}


def minimal_config(include: str, registrations: Sequence[Registration]) -> str:
    """A starter config for the registrations found: their suites, one pool per runner_config."""
    suites = suites_of(registrations) or {"gpu-tests": ("per-commit", "gpu")}
    text = HEADER.format(include=f'"{include}"')
    for pool in sorted({pool for _, pool in suites.values()}):
        text += POOL.format(name=pool)
    text += "\nsuites:\n"
    for name, (trigger, pool) in suites.items():
        step, budget = (120, 100) if trigger == "nightly" else (40, 30)
        text += SUITE.format(name=name, trigger=trigger, pool=pool, step=step, budget=budget)
    return text + FOOTER


def starter_config(template: str, include: str, registrations: Sequence[Registration]) -> str:
    """The text `cigen init` writes, checked to parse as a valid config."""
    if template == "sglang":
        text = mark_todos(default_config_text(), SGLANG_MARKS)
    else:
        text = mark_todos(minimal_config(include, registrations), ())
    parse_config(text, "cigen.yml")
    return text

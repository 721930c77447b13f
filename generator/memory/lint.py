"""`cigen lint` check: do the config's model tests fit the GPUs of the pools that run them?

For every `model_tests` entry, each enabled registration of that file is checked on each pool
its suite runs on (or the entry's own `pools`). A `--mem-fraction-static` pinned in the entry's
`server_args` must fit (error); otherwise sglang's default that does not fit is a warning, since
action.yml passes the advisor's value; a test that fits at no fraction is an error.
"""

from __future__ import annotations

from generator.errors import Problem, Severity, UserError
from generator.lint import planned_registrations
from generator.memory.advisor import GIB_MIB, MEM_FLAG, Advice, Card, advise, pinned_mem_fraction
from generator.memory.hfmodel import ModelShape, load_model
from generator.model import Config, ModelTest, Pool
from generator.registration import Registration
from generator.tree import TreeScan


def check_memory_fit(config: Config, scan: TreeScan) -> list[Problem]:
    """Every model test on every pool that runs it (a LintCheck for `extra_lint_checks`)."""
    problems: list[Problem] = []
    registrations = planned_registrations(config, scan)
    for test in sorted(config.model_tests.values(), key=lambda t: t.path):
        problems.extend(_check_model_test(config, scan, test, [r for r in registrations if r.path == test.path]))
    return problems


def _check_model_test(
    config: Config, scan: TreeScan, test: ModelTest, registrations: list[Registration]
) -> list[Problem]:
    def config_error(code: str, message: str) -> Problem:
        return Problem(config.source, test.line, code, message)

    try:
        model = load_model(test.model, scan.root)
    except UserError as error:
        return [config_error(error.problem.code, f"model test '{test.path}': {error.problem.message}")]
    try:
        pinned = pinned_mem_fraction(test.server_args)
    except ValueError as error:
        return [config_error("bad-server-args", f"model test '{test.path}': {error}")]
    problems = []  # a test no registration runs is lint's check_model_tests' finding
    for reg in registrations:
        suite = config.suites.get(reg.suite)
        if suite is None or not suite.enabled:
            continue
        for pool_name in test.pools or suite.pools:
            problem = _check_pool(reg, suite.name, config.pools[pool_name], test, model, pinned)
            if problem is not None:
                problems.append(problem)
    return problems


def _check_pool(
    reg: Registration, suite: str, pool: Pool, test: ModelTest, model: ModelShape, pinned: float | None
) -> Problem | None:
    where = f"suite '{suite}' on pool '{pool.name}'"
    if pool.gpus < test.tp:
        return Problem(
            reg.path,
            reg.line,
            "tp-over-pool-gpus",
            f"{where}: tp={test.tp} needs {test.tp} GPUs, the pool has {pool.gpus}",
        )
    if pool.gpu_mem_gib is None:
        return Problem(
            reg.path,
            reg.line,
            "mem-unknown-gpu",
            f"{where}: the pool declares no gpu_mem_gib, so {model.name} cannot be checked",
            Severity.WARNING,
        )
    advice = advise(model, Card(pool.name, pool.gpu_mem_gib * GIB_MIB), test.tp, test.extra_peak, mem_fraction=pinned)
    need = f"the test needs {advice.need_mib:.0f} + {advice.margin_mib:.0f} MiB margin"
    recommended = advice.recommended_mem_fraction
    if recommended is None:
        return Problem(
            reg.path,
            reg.line,
            "mem-never-fits",
            f"{where}: {model.name} does not fit a {pool.gpu_mem_gib:g} GiB GPU at any {MEM_FLAG} ({need})",
            help="run it on a pool with larger GPUs, or raise tp",
        )
    if pinned is not None and not advice.fits(pinned):
        return Problem(
            reg.path,
            reg.line,
            "mem-no-fit",
            f"{where}: {MEM_FLAG} {pinned:g} leaves {_headroom(advice, pinned)} MiB free; {need}",
            help=f"use {MEM_FLAG} {recommended:g} (cigen mem --model {test.model} --pool {pool.name})",
        )
    if pinned is None and not advice.fits(advice.default_mem_fraction):
        return Problem(
            reg.path,
            reg.line,
            "mem-default-no-fit",
            f"{where}: sglang's default {MEM_FLAG} {advice.default_mem_fraction:g} leaves "
            f"{_headroom(advice, advice.default_mem_fraction)} MiB free; {need}; action.yml passes {recommended:g}",
            Severity.WARNING,
            help=f"a run without action.yml needs {MEM_FLAG} {recommended:g} in the test's server args",
        )
    return None


def tp_over_pool(config: Config, pool_name: str, tp: int) -> Problem | None:
    """`cigen mem --pool NAME --tp N`: a warning when the pool's runners have fewer GPUs than tp."""
    pool = config.pools[pool_name]
    if pool.gpus >= tp:
        return None
    message = f"tp={tp} needs {tp} GPUs, pool '{pool_name}' has {pool.gpus}: no test with this tp runs there"
    return Problem(config.source, pool.line, "tp-over-pool-gpus", message, Severity.WARNING)


def _headroom(advice: Advice, fraction: float) -> str:
    return f"{advice.headroom_mib(fraction):.0f}"

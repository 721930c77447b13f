"""The registry of generated files and the one loop that renders them.

Paths are relative to the `.github/` folder. Workflows come from templates; the plan file from
the plan; the programs the jobs run (the shard runner, the gate) are copies of generator/shipped/
modules, so the jobs need no cigen install (and the copies are reviewed and drift-checked like the
workflows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.model import Config
from generator.names import PLAN_FILE, RERUN_REGISTRY_FILE
from generator.pipeline import Build
from generator.plan import plan_file_of
from generator.render.contexts import (
    PER_COMMIT,
    actionlint_context,
    cpu_tests_context,
    nightly_context,
    nightly_kind,
    per_commit_context,
    redispatch_context,
    rerun_context,
    rerun_registry_text,
    timings_context,
)
from generator.render.jobs import has_jobs
from generator.render.shipping import closure, copy_text, shipped_module_names, shipped_path
from generator.render.templates import render_template
from generator.shipped import plan_file as plan_file_module


@dataclass(frozen=True)
class Output:
    """One generated file: its name, where it goes under `.github/`, and how it is made."""

    name: str
    path: Callable[[Config], str]
    make: Callable[[Build], str | None]  # None: this repository gets no such file


def workflow(name: str, template: str, build_context: Callable[[Build], dict | None]) -> Output:
    """A workflow rendered from a template, written under the file name the config gives it."""

    def make(build: Build) -> str | None:
        context = build_context(build)
        return None if context is None else render_template(template, context, build.inputs.cache_dir)

    return Output(name, lambda config: f"workflows/{config.workflows.file_name(name)}", make)


def has_gpu_workflow(build: Build) -> bool:
    """A per-commit or nightly workflow is rendered (its context is not None): its gate reads
    the plan file. Decided without building the jobs: this is asked once per shipped module."""
    return has_jobs(build, PER_COMMIT) or has_jobs(build, nightly_kind(build))


def has_rerun_workflow(build: Build) -> bool:
    """The /rerun-test workflow is rendered (rerun_context is not None): some suite and pool can
    be rerun. Decided from the config alone: the registry the workflow needs is slow to build,
    and this is asked once per shipped module."""
    from generator.rerun.parse import rerun_jobs

    return bool(rerun_jobs(build.config))


# The programs generated workflows run, and when a repository needs each; the modules they
# import come with them (generator/render/shipping.py).
SHIPPED_PROGRAMS: dict[str, Callable[[Build], bool]] = {
    "run_shard": lambda build: bool(build.plan.suites),
    "ci_gate": has_gpu_workflow,
    "health": lambda build: bool(build.plan.suites),  # the runners' job-started hook, too
    "redispatch": lambda build: redispatch_context(build) is not None,
    "rerun_gate": has_rerun_workflow,
}


def shipped_modules(build: Build) -> list[str]:
    """Every generator/shipped module this repository's workflows run or import."""
    return closure({program for program, needed in SHIPPED_PROGRAMS.items() if needed(build)})


def shipped(module: str) -> Output:
    """The copy of one generator/shipped module, where a shipped program needs it."""

    def make(build: Build) -> str | None:
        if module not in shipped_modules(build):
            return None
        return copy_text(module, build.config.workflows.regenerate)

    return Output(module, lambda config: shipped_path(module), make)


def plan_file(build: Build) -> str | None:
    """The plan the workflows run, wherever a GPU workflow's gate reads it."""
    if not has_gpu_workflow(build):
        return None
    generated = (
        "written by cigen render from cigen.yml and the registered tests. DO NOT EDIT. "
        f"Regenerate: {build.config.workflows.regenerate}"
    )
    return plan_file_module.text(plan_file_of(build.plan), generated)


OUTPUTS: tuple[Output, ...] = (
    workflow("per-commit", "per-commit.yml.j2", per_commit_context),
    workflow("nightly", "nightly.yml.j2", nightly_context),
    workflow("cpu-tests", "cpu-tests.yml.j2", cpu_tests_context),
    workflow("rerun-test", "rerun-test.yml.j2", rerun_context),
    workflow("timings", "timings.yml.j2", timings_context),
    workflow("redispatch", "redispatch.yml.j2", redispatch_context),
    Output("plan", lambda config: PLAN_FILE, plan_file),
    Output("rerun-registry", lambda config: RERUN_REGISTRY_FILE, rerun_registry_text),
    Output(
        "actionlint",
        lambda config: "actionlint.yaml",
        lambda build: render_template("actionlint.yaml.j2", actionlint_context(build), build.inputs.cache_dir),
    ),
    *(shipped(module) for module in shipped_module_names()),
)


def not_rendered(build: Build) -> list[str]:
    """Outputs a repository could have but does not, and what it takes: for `cigen render` to say.
    (/rerun-test needs nothing installed since its gate is shipped: nothing to say today.)"""
    return []


def render_outputs(build: Build, outputs: Sequence[Output] = OUTPUTS) -> dict[str, str]:
    """{path under .github/: text} for every output this repository gets. Workflows are checked
    for their `@generated` header and parsed back. `build` must have no errors."""
    if build.errors:
        raise AssertionError("render_outputs needs a build without errors")
    rendered = {}
    for output in outputs:
        text = output.make(build)
        if text is not None:
            rendered[output.path(build.config)] = text
    return rendered

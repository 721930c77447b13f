"""The registry of generated files and the one loop that renders them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.pipeline import Build
from generator.render.contexts import (
    actionlint_context,
    cpu_tests_context,
    nightly_context,
    per_commit_context,
    rerun_context,
)
from generator.render.templates import render_template


@dataclass(frozen=True)
class Output:
    """One generated file: where it goes under `.github/`, its template, its context builder."""

    path: str
    template: str
    build_context: Callable[[Build], dict | None]


OUTPUTS: tuple[Output, ...] = (
    Output("workflows/per-commit.yml", "per-commit.yml.j2", per_commit_context),
    Output("workflows/nightly.yml", "nightly.yml.j2", nightly_context),
    Output("workflows/cpu-tests.yml", "cpu-tests.yml.j2", cpu_tests_context),
    Output("workflows/rerun-test.yml", "rerun-test.yml.j2", rerun_context),
    Output("actionlint.yaml", "actionlint.yaml.j2", actionlint_context),
)


def render_outputs(build: Build, outputs: Sequence[Output] = OUTPUTS) -> dict[str, str]:
    """{path under .github/: text} for every output this repository gets, each checked for
    its `@generated` header and parsed back. `build` must have no errors."""
    if build.errors:
        raise AssertionError("render_outputs needs a build without errors")
    rendered = {}
    for output in outputs:
        context = output.build_context(build)
        if context is not None:
            rendered[output.path] = render_template(output.template, context)
    return rendered

"""A repository's generated files, rendered in memory: inputs -> build -> outputs, nothing written.

`render` writes what this returns, `check` compares it with the disk; both are options in, one
call to `render_repository`, output out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from generator.errors import Problem, ProblemReport, raise_errors


@dataclass(frozen=True)
class RenderRequest:
    """What `cigen render` and `cigen check` were asked for."""

    root: Path
    config_path: Path | None = None
    use_cache: bool = True
    timings_path: Path | None = None
    out: Path | None = None  # default: ROOT/.github
    fresh: bool = False  # plan from scratch instead of keeping the committed plan file's shards
    adopt: tuple[Path, ...] = ()  # hand-written files the user lets cigen replace

    @property
    def github_dir(self) -> Path:
        return self.out if self.out is not None else self.root / ".github"


@dataclass(frozen=True)
class RenderedFiles:
    """Every generated file's fresh text, by where it belongs on disk."""

    files: dict[Path, str]
    github_dir: Path
    regenerate: str  # the command that rewrites them
    not_rendered: tuple[str, ...] = ()  # outputs the repository does not get, and why
    warnings: tuple[Problem, ...] = ()


def render_repository(request: RenderRequest, what: str) -> RenderedFiles:
    """Build (keeping the committed plan file's shards where the plan allows, unless `fresh`)
    and render. Errors and hand-written files in the way raise a ProblemReport saying `what`
    ("nothing written"); warnings come back with the files."""
    from generator.names import PLAN_FILE
    from generator.pipeline import build, load_planning_timings, read_inputs
    from generator.planning.previous import committed_shards
    from generator.render.files import output_files, refuse_hand_written
    from generator.render.outputs import not_rendered, render_outputs

    inputs = read_inputs(request.root, request.config_path, request.use_cache)
    timings = load_planning_timings(inputs, request.timings_path)
    github_dir = request.github_dir
    previous = None if request.fresh else committed_shards(github_dir / PLAN_FILE)
    built = build(inputs, timings, previous)
    raise_errors(built.problems, len(inputs.scan.files), what)
    files = output_files(render_outputs(built), github_dir)
    warnings = tuple(problem for problem in built.problems if not problem.is_error)
    try:
        refuse_hand_written(files, request.adopt, what)
    except ProblemReport as report:
        raise ProblemReport(report.problems, report.summary, warnings) from None
    return RenderedFiles(files, github_dir, built.config.workflows.regenerate, tuple(not_rendered(built)), warnings)

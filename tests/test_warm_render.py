"""A warm `render` (scan cache, remembered splits, compiled templates) writes exactly what a cold
one writes, and a cache folder it cannot write to changes nothing but speed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from generator.cli import cli


def render(root: Path, out: Path, *options: str) -> dict[str, str]:
    """`cigen render --out OUT`, and every file it leaves under OUT."""
    result = CliRunner().invoke(cli, ["render", "--root", str(root), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return {path.relative_to(out).as_posix(): path.read_text() for path in sorted(out.rglob("*")) if path.is_file()}


def test_warm_render_is_the_cold_render_byte_for_byte(synth_tree, tmp_path, isolated_cache):
    cold = render(synth_tree.root, tmp_path / "cold", "--no-cache")
    assert not isolated_cache.exists()
    assert render(synth_tree.root, tmp_path / "warm", "--fresh") == cold  # fills the caches
    assert {path.name.split("-")[0] for path in isolated_cache.iterdir()} >= {"scan", "splits", "templates"}
    assert render(synth_tree.root, tmp_path / "served", "--fresh") == cold  # served from them

    # Over its own output, the plan starts from the committed plan file's shards: also a key.
    again_cold = render(synth_tree.root, tmp_path / "cold", "--no-cache")
    assert render(synth_tree.root, tmp_path / "warm") == again_cold
    assert render(synth_tree.root, tmp_path / "warm") == again_cold


def test_a_cache_folder_that_cannot_be_written_only_costs_speed(synth_tree, tmp_path, monkeypatch):
    cold = render(synth_tree.root, tmp_path / "cold", "--no-cache")
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(blocked))
    assert render(synth_tree.root, tmp_path / "warm") == cold


def test_the_rerun_programs_are_shipped_exactly_when_the_rerun_workflow_renders(synth_tree, tmp_path):
    from dataclasses import replace

    from generator.pipeline import build, read_inputs
    from generator.render.contexts import rerun_context
    from generator.render.outputs import has_rerun_workflow

    built = build(read_inputs(synth_tree.root))
    assert has_rerun_workflow(built) and rerun_context(built) is not None
    no_suites = replace(built, config=replace(built.config, suites={}))
    assert not has_rerun_workflow(no_suites) and rerun_context(no_suites) is None


def test_the_plan_file_and_gate_are_shipped_exactly_when_a_gpu_workflow_renders(synth_tree):
    from dataclasses import replace

    from generator.pipeline import build, read_inputs
    from generator.render.contexts import nightly_context, per_commit_context
    from generator.render.outputs import has_gpu_workflow

    built = build(read_inputs(synth_tree.root))
    suites = built.config.suites

    def keeping(*triggers: str):
        kept = {name: suite for name, suite in suites.items() if suite.trigger in triggers}
        return replace(built, config=replace(built.config, suites=kept))

    cases = {
        "all": built,
        "per-commit only": keeping("per-commit"),
        "nightly only": keeping("nightly"),
        "manual only": keeping("manual"),
        "none": keeping(),
    }
    rendered = {}
    for name, case in cases.items():
        rendered[name] = per_commit_context(case) is not None, nightly_context(case) is not None
        assert has_gpu_workflow(case) == any(rendered[name]), name
    assert rendered["per-commit only"] == (True, False)
    assert rendered["nightly only"] == (False, True)
    assert rendered["none"] == (False, False)


def test_a_rendered_text_is_parsed_back_once_then_remembered(tmp_path, monkeypatch):
    import yaml

    from generator.render.templates import _parses_as_mapping

    assert _parses_as_mapping("on: push\njobs: {}\n", None)
    assert not _parses_as_mapping("- a list\n", tmp_path)
    assert not _parses_as_mapping("- a list\n", tmp_path)  # a failure is never remembered
    assert _parses_as_mapping("name: x\n", tmp_path)
    assert len(list(tmp_path.rglob("*"))) == 2  # the folder and the one marker

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr(yaml, "compose", no_parsing)
    assert _parses_as_mapping("name: x\n", tmp_path)  # remembered
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.undo()
    assert _parses_as_mapping("name: y\n", blocked)  # a cache it cannot write to changes nothing

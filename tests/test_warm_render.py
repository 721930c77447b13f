"""A warm `render` (scan cache, remembered splits, compiled templates) gives exactly what a cold
one gives, and a cache folder it cannot write to changes nothing but speed."""

from __future__ import annotations

from pathlib import Path

from generator.cli.render_commands import render_files
from generator.render.files import write_generated


def rendered(root: Path, github: Path, no_cache: bool) -> dict[str, str]:
    files = render_files(root, None, no_cache, None, github, "nothing written").files
    return {path.relative_to(github).as_posix(): text for path, text in files.items()}


def test_warm_render_is_the_cold_render_byte_for_byte(synth_tree, tmp_path, isolated_cache):
    github = tmp_path / ".github"
    cold = rendered(synth_tree.root, github, no_cache=True)
    assert rendered(synth_tree.root, github, no_cache=False) == cold  # fills the caches
    assert {p.name.split("-")[0] for p in isolated_cache.iterdir()} >= {"scan", "splits", "templates"}
    assert rendered(synth_tree.root, github, no_cache=False) == cold  # served from them

    # With the plan file committed, the next plan starts from its shards: also a cache key.
    write_generated(render_files(synth_tree.root, None, True, None, github, "nothing written").files, github)
    kept_cold = rendered(synth_tree.root, github, no_cache=True)
    assert rendered(synth_tree.root, github, no_cache=False) == kept_cold
    assert rendered(synth_tree.root, github, no_cache=False) == kept_cold


def test_a_cache_folder_that_cannot_be_written_only_costs_speed(synth_tree, tmp_path, monkeypatch, capsys):
    github = tmp_path / ".github"
    cold = rendered(synth_tree.root, github, no_cache=True)
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("CIGEN_CACHE_DIR", str(blocked))
    assert rendered(synth_tree.root, github, no_cache=False) == cold
    assert "scan cache not saved" in capsys.readouterr().err  # said once, by the scan cache

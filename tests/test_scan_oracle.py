"""Differential test: our scanner vs sglang's own collect_tests on the real corpus tree."""

from __future__ import annotations

from pathlib import Path

from generator.backends import MARKERS
from generator.config import load_config
from generator.scan import scan_text
from generator.tree import scan_tree
from tests.support.oracle import ci_register, sglang_files


def oracle_rows(root: Path) -> list[tuple]:
    """sglang's registrations as comparable rows (file relative to root)."""
    module = ci_register()
    rows = []
    for reg in module.collect_tests(sglang_files(root), sanity_check=True):
        rows.append(
            (
                Path(reg.filename).relative_to(root).as_posix(),
                reg.backend.name.lower(),
                reg.est_time,
                reg.effective_suite,
                reg.stage,
                reg.runner_config,
                reg.nightly,
                reg.disabled,
            )
        )
    return sorted(rows, key=repr)


def our_rows(scan) -> list[tuple]:
    return sorted(
        (
            (r.path, r.backend, r.est_seconds, r.suite, r.stage, r.runner_config, r.nightly, r.disabled)
            for r in scan.registrations
        ),
        key=repr,
    )


def test_scan_matches_collect_tests_field_by_field(synth_tree):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    assert scan.errors == []
    expected = oracle_rows(synth_tree.root)
    assert len(expected) == 1834 - 0  # every call of every collected file
    assert our_rows(scan) == expected


def test_same_files_as_sglang_run_suite(synth_tree):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    theirs = sorted(Path(f).relative_to(synth_tree.root).as_posix() for f in sglang_files(synth_tree.root))
    assert list(scan.files) == theirs


def test_line_numbers_match_the_corpus(synth_tree, corpus):
    config = load_config(None, synth_tree.root)
    scan = scan_tree(synth_tree.root, config.include, config.exclude)
    ours = sorted((r.path, r.line, r.backend) for r in scan.registrations)
    expected = sorted(
        (entry["file"], call["lineno"], MARKERS[call["func"]])
        for entry in corpus["files"]
        for call in entry["calls"]
        if entry["file"] in set(scan.files)
    )
    assert ours == expected


def test_main_block_detection_matches_sglang_per_file(synth_tree):
    module = ci_register()
    for path in synth_tree.paths:
        _, has_main = module.ut_parse_one_file(str(path))
        assert scan_text(path.read_text()).has_main == has_main, path

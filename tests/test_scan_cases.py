"""One bad file per scan error code (tests/cases/scan/); each names its expected output
in `# expect:` header lines, and the whole formatted message must match."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.cache import ScanCache
from generator.tree import scan_tree

CASES = Path(__file__).parent / "cases" / "scan"
MAIN = 'import unittest\nif __name__ == "__main__":\n    unittest.main()\n'


def expected_lines(path: Path) -> list[str]:
    return [line[len("# expect: ") :] for line in path.read_text().splitlines() if line.startswith("# expect: ")]


@pytest.mark.parametrize("case", sorted(CASES.glob("*.py")), ids=lambda p: p.stem)
def test_case_reports_exactly_its_expected_problems(case: Path):
    scan = scan_tree(CASES, (case.name,), ())
    reported = [line for problem in scan.problems for line in problem.format().splitlines()]
    assert reported == expected_lines(case)


def test_every_scan_error_code_has_a_case():
    codes = {
        line.split(": ")[1 if ": warning: " not in line else 2]
        for case in CASES.glob("*.py")
        for line in expected_lines(case)
        if not line.startswith("  help:")
    }
    assert codes >= {
        "non-constant-arg",
        "starred-arg",
        "too-many-args",
        "unknown-arg",
        "duplicate-arg",
        "missing-est-time",
        "bad-est-time",
        "suite-shape",
        "bad-suite",
        "bad-stage",
        "bad-runner-config",
        "bad-nightly",
        "bad-disabled",
        "unknown-marker",
        "syntax-error",
        "no-marker",
        "missing-main",
    }


def test_problems_from_every_file_are_reported_in_one_run():
    scan = scan_tree(CASES, ("*.py",), ())
    files_with_problems = {p.path for p in scan.problems}
    files_expecting = {case.name for case in CASES.glob("*.py") if expected_lines(case)}
    assert files_with_problems == files_expecting


def test_undecodable_file_is_reported_with_its_line(tmp_path: Path):
    (tmp_path / "latin1.py").write_bytes(b"x = 1\n# caf\xe9\nregister_cuda_ci(est_time=1, suite='s')\n")
    scan = scan_tree(tmp_path, ("*.py",), ())
    assert [p.format() for p in scan.problems] == [
        "latin1.py:2: decode-error: not UTF-8 text: invalid continuation byte at byte 11"
    ]


def test_unreadable_file_is_a_problem_not_a_traceback(tmp_path: Path):
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing-target.py")  # unreadable even for root
    for cache in (None, ScanCache(tmp_path / "cache")):
        scan = scan_tree(tmp_path, ("*.py",), (), cache)
        assert [p.format() for p in scan.problems] == ["gone.py:1: unreadable: cannot read: No such file or directory"]


def test_links_out_of_the_tree_are_refused_and_never_read(tmp_path: Path):
    """Regression: a linked test file was read wherever it pointed, and errors echoed its text."""
    root, outside = tmp_path / "tree", tmp_path / "elsewhere"
    (root / "test/registered/ok").mkdir(parents=True)
    (outside / "suite").mkdir(parents=True)
    secret = "register_cuda_ci(est_time='hunter2', suite='s')\n"
    (outside / "target.py").write_text(secret)
    (outside / "suite/test_in_linked_folder.py").write_text(secret)
    (root / "test/registered/ok/real.py").write_text("register_cuda_ci(est_time=1, suite='s')\n" + MAIN)
    (root / "test/registered/ok/inside_link.py").symlink_to(root / "test/registered/ok/real.py")
    (root / "test/registered/test_link.py").symlink_to(outside / "target.py")
    (root / "test/registered/test_dangling.py").symlink_to(outside / "gone.py")
    (root / "test/registered/linked_folder").symlink_to(outside / "suite")
    for cache in (None, ScanCache(tmp_path / "cache")):
        scan = scan_tree(root, ("test/registered/**/*.py",), (), cache)
        assert [p.format() for p in scan.problems] == [
            "test/registered/linked_folder: outside-root: "
            "a folder link that leads outside the scanned tree; nothing under it is scanned",
            "test/registered/test_dangling.py:1: outside-root: "
            "a link that leads outside the scanned tree; the file is not read",
            "test/registered/test_link.py:1: outside-root: "
            "a link that leads outside the scanned tree; the file is not read",
        ]
        assert [(r.path, r.est_seconds) for r in scan.registrations] == [
            ("test/registered/ok/inside_link.py", 1.0),
            ("test/registered/ok/real.py", 1.0),
        ]
        assert "hunter2" not in repr(scan) and str(outside) not in repr(scan)


def test_a_walk_root_that_is_a_link_out_of_the_tree_is_refused(tmp_path: Path):
    root, outside = tmp_path / "tree", tmp_path / "elsewhere"
    root.mkdir()
    (outside / "registered").mkdir(parents=True)
    (outside / "registered/test_x.py").write_text("register_cuda_ci(est_time='hunter2', suite='s')\n")
    (root / "test").symlink_to(outside)
    scan = scan_tree(root, ("test/registered/**/*.py",), ())
    assert [p.format() for p in scan.problems] == [
        "test/registered: outside-root: a folder link that leads outside the scanned tree; nothing under it is scanned"
    ]
    assert scan.files == () and scan.registrations == ()


def test_a_root_that_is_itself_a_link_scans_normally(tmp_path: Path):
    (tmp_path / "real/test").mkdir(parents=True)
    (tmp_path / "real/test/a.py").write_text("register_cuda_ci(est_time=1, suite='s')\n" + MAIN)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    scan = scan_tree(tmp_path / "link", ("test/*.py",), ())
    assert (scan.problems, [r.path for r in scan.registrations]) == ((), ["test/a.py"])


def test_files_match_any_include_glob_and_no_exclude_glob(tmp_path):
    from generator.tree import discover_files

    names = ["a/test_x.py", "a/b/test_y.py", "a/b/conftest.py", "c/test_z.py", "c/d/e.py", "top.py", ".hidden/t.py"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")

    def found(include, exclude=()):
        return discover_files(tmp_path, include, exclude)[0]

    assert found(("a/**/*.py",)) == ["a/b/conftest.py", "a/b/test_y.py", "a/test_x.py"]
    assert found(("a/**/*.py", "c/*.py")) == ["a/b/conftest.py", "a/b/test_y.py", "a/test_x.py", "c/test_z.py"]
    assert found(("**/*.py",), ("**/conftest.py", "c/**")) == ["a/b/test_y.py", "a/test_x.py", "top.py"]
    assert found(("./a/*.py", "a/*.py"), ("./a/b/*.py",)) == ["a/test_x.py"]
    assert found(("**/*.py",), ("**/*.py",)) == []
    assert found(()) == []

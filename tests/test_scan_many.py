"""Scanning in worker processes gives what scanning here gives, file for file, and falls back
to scanning here wherever forking is not safe or does not pay."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import threading

import pytest

from generator import scan_many
from generator.cache import ScanCache
from generator.scan_many import JOBS_ENV, read_and_scan, scan_files
from generator.tree import scan_tree


def _registered(synth_tree) -> list[str]:
    return [path.relative_to(synth_tree.root).as_posix() for path in synth_tree.paths]


def _calls(synth_tree) -> int:
    return sum(len(entry["calls"]) for entry in synth_tree.entries)


@pytest.fixture
def forks(monkeypatch):
    """Count the worker pools started."""
    started = []
    real = multiprocessing.get_context

    def counting(method):
        started.append(method)
        return real(method)

    monkeypatch.setattr(multiprocessing, "get_context", counting)
    return started


def test_workers_scan_what_one_process_scans_in_the_same_order(synth_tree, monkeypatch, forks):
    rels = _registered(synth_tree)
    monkeypatch.setenv(JOBS_ENV, "1")
    here = scan_files(str(synth_tree.root), rels)
    assert forks == []
    monkeypatch.setenv(JOBS_ENV, "3")
    assert scan_files(str(synth_tree.root), rels) == here
    assert forks == ["fork"]
    assert [key for key, _ in here] == [read_and_scan(str(synth_tree.root), rel)[0] for rel in rels]
    assert sum(len(result.markers) for _, result in here) == _calls(synth_tree)


def test_known_contents_are_not_scanned_again(synth_tree, monkeypatch, forks):
    rels = _registered(synth_tree)
    monkeypatch.setenv(JOBS_ENV, "2")
    first = scan_files(str(synth_tree.root), rels)
    known = {key for key, _ in first[::2]}
    again = scan_files(str(synth_tree.root), rels, known=known)
    assert forks == ["fork", "fork"]
    assert [key for key, _ in again] == [key for key, _ in first]
    assert [result is None for _, result in again] == [key in known for key, _ in first]


def test_a_cached_tree_scanned_by_workers_is_the_tree_scanned_here(synth_tree, tmp_path, monkeypatch, forks):
    include = ("test/registered/**/*.py",)
    monkeypatch.setenv(JOBS_ENV, "1")
    here = scan_tree(synth_tree.root, include, ())
    monkeypatch.setenv(JOBS_ENV, "2")
    cache = ScanCache(tmp_path / "cache")
    assert scan_tree(synth_tree.root, include, (), cache) == here  # every file through the workers
    assert (cache.misses, forks) == (len(synth_tree.paths), ["fork"])
    warm = ScanCache(tmp_path / "cache")
    assert scan_tree(synth_tree.root, include, (), warm) == here
    assert warm.misses == 0 and len(forks) <= 2  # files younger than the racy window are read again


@pytest.mark.parametrize(
    ("why", "setting"),
    [
        ("few files", lambda monkeypatch: monkeypatch.setattr(scan_many, "MIN_FILES_PER_WORKER", 10_000)),
        ("another thread", lambda monkeypatch: monkeypatch.setattr(threading, "active_count", lambda: 2)),
        ("not Linux", lambda monkeypatch: monkeypatch.setattr(sys, "platform", "darwin")),
        ("one job", lambda monkeypatch: monkeypatch.setenv(JOBS_ENV, "1")),
    ],
)
def test_files_are_scanned_here_where_workers_do_not_pay_or_are_not_safe(synth_tree, monkeypatch, forks, why, setting):
    monkeypatch.setenv(JOBS_ENV, "2")
    setting(monkeypatch)
    rels = _registered(synth_tree)
    assert len(scan_files(str(synth_tree.root), rels)) == len(rels)
    assert forks == [], why


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_jobs_setting_is_a_clear_error(synth_tree, value):
    env = {"PATH": "", JOBS_ENV: value}
    result = subprocess.run(
        [sys.executable, "-m", "generator", "scan", "--root", str(synth_tree.root), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (f"${JOBS_ENV}: bad-jobs: {value!r} is not a number of processes"), (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_the_command_scans_the_same_with_workers_and_without(synth_tree, tmp_path):
    def scan(jobs: str) -> list[dict]:
        command = [sys.executable, "-m", "generator", "scan", "--root", str(synth_tree.root), "--format", "json"]
        env = {"PATH": "", JOBS_ENV: jobs, "CIGEN_CACHE_DIR": str(tmp_path / jobs)}
        result = subprocess.run([*command, "--no-cache"], capture_output=True, text=True, env=env, check=True)
        return json.loads(result.stdout)

    assert scan("2") == scan("1")
    assert len(scan("2")) == _calls(synth_tree)

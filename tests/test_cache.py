"""The scan cache: fast when warm, never wrong after an edit, safe to delete or corrupt."""

from __future__ import annotations

import os
from pathlib import Path

from generator import cache as cache_module
from generator.cache import ScanCache
from generator.tree import scan_tree
from tests.support.files import write_files

A = "register_cuda_ci(est_time=60, suite='s')\nif __name__ == '__main__':\n    main()\n"


def scan(root: Path, store: Path):
    cache = ScanCache(store)
    return scan_tree(root, ("*.py",), (), cache), cache


def test_second_run_is_all_hits(tmp_path):
    root = write_files(tmp_path / "tree", {"a.py": A, "b.py": A.replace("60", "70")})
    first, cold = scan(root, tmp_path / "c")
    second, warm = scan(root, tmp_path / "c")
    assert (cold.hits, cold.misses) == (0, 2)
    assert (warm.hits, warm.misses) == (2, 0)
    assert first == second


def test_edit_with_same_size_and_mtime_is_rescanned(tmp_path):
    root = write_files(tmp_path / "tree", {"a.py": A})
    path = root / "a.py"
    scan(root, tmp_path / "c")
    stat = path.stat()
    path.write_text(A.replace("60", "90"))  # same length
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result, cache = scan(root, tmp_path / "c")
    assert cache.misses == 1
    assert result.registrations[0].est_seconds == 90.0


def test_corrupt_store_is_rebuilt(tmp_path):
    root = write_files(tmp_path / "tree", {"a.py": A})
    scan(root, tmp_path / "c")
    for store in (tmp_path / "c").glob("scan-*.json"):
        store.write_text("{not json")
    result, cache = scan(root, tmp_path / "c")
    assert cache.misses == 1 and result.registrations[0].est_seconds == 60.0
    _, again = scan(root, tmp_path / "c")
    assert again.hits == 1


def test_scanner_change_invalidates_everything(tmp_path, monkeypatch):
    root = write_files(tmp_path / "tree", {"a.py": A})
    scan(root, tmp_path / "c")
    monkeypatch.setattr(cache_module, "_FORMAT", cache_module._FORMAT + 1)
    _, cache = scan(root, tmp_path / "c")
    assert cache.misses == 1


def test_problems_survive_the_cache(tmp_path):
    root = write_files(tmp_path / "tree", {"bad.py": "register_cuda_ci(est_time='x', suite='s')\n"})
    cold, _ = scan(root, tmp_path / "c")
    warm, cache = scan(root, tmp_path / "c")
    assert cache.hits == 1 and warm.problems == cold.problems and len(warm.problems) == 1


def test_unwritable_cache_only_warns(tmp_path, capsys):
    root = write_files(tmp_path / "tree", {"a.py": A})
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("")
    result, _ = scan(root, blocker / "cache")
    assert result.registrations[0].est_seconds == 60.0
    assert "warning: scan cache not saved" in capsys.readouterr().err


def test_stale_entries_are_pruned(tmp_path):
    root = write_files(tmp_path / "tree", {"a.py": A, "b.py": A.replace("60", "61")})
    scan(root, tmp_path / "c")
    (root / "b.py").unlink()
    scan(root, tmp_path / "c")
    store = next((tmp_path / "c").glob("scan-*.json"))
    assert store.read_text().count('"est_time"') == 0  # compact encoding, no field names
    import json

    assert len(json.loads(store.read_text())["entries"]) == 1


def test_unchanged_files_are_not_even_read_once_their_stat_is_old_enough(tmp_path, monkeypatch):
    root = write_files(tmp_path / "tree", {"a.py": A, "b.py": A.replace("60", "70")})
    scan(root, tmp_path / "c")
    _, fresh = scan(root, tmp_path / "c")
    assert (fresh.hits, fresh.unread) == (2, 0)  # written just now: the stat is not trusted yet, files hashed
    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)
    scan(root, tmp_path / "c")  # records the signatures
    _, warm = scan(root, tmp_path / "c")
    assert (warm.hits, warm.unread, warm.misses) == (2, 2, 0)


def test_an_edit_that_restores_size_and_mtime_is_still_seen(tmp_path, monkeypatch):
    """The fast path compares ctime too, which no tool can set back."""
    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0.0)
    root = write_files(tmp_path / "tree", {"a.py": A})
    path = root / "a.py"
    scan(root, tmp_path / "c")
    scan(root, tmp_path / "c")
    stat = path.stat()
    path.write_text(A.replace("60", "90"))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result, cache = scan(root, tmp_path / "c")
    assert (cache.unread, cache.misses) == (0, 1)
    assert result.registrations[0].est_seconds == 90.0


def test_a_signature_inside_the_racy_window_is_never_trusted(tmp_path):
    root = write_files(tmp_path / "tree", {"a.py": A})
    scan(root, tmp_path / "c")
    store = next((tmp_path / "c").glob("scan-*.json"))
    import json

    assert json.loads(store.read_text())["stats"] == {}  # the file is seconds old: no signature kept

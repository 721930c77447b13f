"""A cache of per-file scan results, keyed by content.

Results are keyed by the SHA-256 of each file's bytes, so an edit can never be served a
stale result. To skip even reading unchanged files, the store also remembers each path's
`os.stat` signature (size, mtime, ctime, inode) next to its content key: when all four match,
the file is not read. ctime cannot be set back by tools like `touch -d`, so an edit that keeps
size and mtime is still seen; signatures younger than RACY_SECONDS at scan time are not
trusted (a coarse file system clock could hide a later edit in the same tick), those files are
hashed. The store records a fingerprint of the scanner's own source and the Python version and
is dropped whole when either changes. Safe to delete at any time. Location: $CIGEN_CACHE_DIR,
else $XDG_CACHE_HOME/cigen, else ~/.cache/cigen.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from generator import scan as scan_module
from generator.atomic import write_text_atomic
from generator.errors import Severity
from generator.scan import FileScan, Marker, finding
from generator.scan_many import scan_files

_FORMAT = 2
RACY_SECONDS = 2.0  # the coarsest common file-system timestamp (FAT: 2 s)


def _fingerprint() -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(Path(scan_module.__file__).read_bytes())
    digest.update(f"{_FORMAT}:{sys.version_info[:2]}".encode())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    if os.environ.get("CIGEN_CACHE_DIR"):
        return Path(os.environ["CIGEN_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cigen"


def _encode(result: FileScan) -> list:
    return [
        [
            [m.line, m.backend, m.est_seconds, m.suite, m.stage, m.runner_config, m.nightly, m.disabled]
            for m in result.markers
        ],
        result.has_main,
        [[f.line, f.code, f.message, f.help, f.severity.value] for f in result.findings],
    ]


def _decode(data: list) -> FileScan:
    markers, has_main, findings = data
    return FileScan(
        markers=tuple(Marker(*fields) for fields in markers),
        has_main=has_main,
        findings=tuple(
            finding(line, code, message, help, Severity(severity)) for line, code, message, help, severity in findings
        ),
    )


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


class ScanCache:
    """Per-root store of `content hash -> FileScan`; misses are scanned and saved."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.hits = 0  # results served from the store (`unread` of them without reading the file)
        self.unread = 0
        self.misses = 0

    def _store_path(self, root: Path) -> Path:
        key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
        return self.directory / f"scan-{key}.json"

    def _load(self, path: Path, fingerprint: str) -> tuple[dict, dict]:
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}, {}
        if not isinstance(stored, dict) or stored.get("fingerprint") != fingerprint:
            return {}, {}
        entries, stats = stored.get("entries"), stored.get("stats")
        return (entries if isinstance(entries, dict) else {}), (stats if isinstance(stats, dict) else {})

    def lookup_many(self, root: Path, files: list[str]) -> dict[str, FileScan]:
        """Every file's scan: from the store where its signature or its content is known, else
        scanned (generator/scan_many.py); the store is updated to what was seen."""
        fingerprint = _fingerprint()
        path = self._store_path(root)
        entries, stats = self._load(path, fingerprint)
        trusted_before = time.time_ns() - int(RACY_SECONDS * 1e9)
        results: dict[str, FileScan] = {}
        keys: dict[str, str] = {}
        signatures: dict[str, list[int]] = {}
        unknown: list[str] = []
        for rel in files:
            try:
                signature = _signature(os.stat(os.path.join(root, rel)))
            except OSError:
                unknown.append(rel)
                continue
            signatures[rel] = signature
            known = stats.get(rel)
            if isinstance(known, list) and known[:4] == signature and known[4] in entries:
                self.hits += 1
                self.unread += 1
                keys[rel] = known[4]
                results[rel] = _decode(entries[known[4]])
            else:
                unknown.append(rel)
        for rel, (key, result) in zip(unknown, scan_files(os.fspath(root), unknown, known=entries.keys())):
            if key is None:  # unreadable: report, never cache
                results[rel] = result
                continue
            keys[rel] = key
            if result is None:
                self.hits += 1
                results[rel] = _decode(entries[key])
            else:
                self.misses += 1
                results[rel] = result
        kept: dict[str, list] = {}
        kept_stats: dict[str, list] = {}
        for rel in files:
            key = keys.get(rel)
            if key is None:
                continue
            kept[key] = entries.get(key) or _encode(results[rel])
            signature = signatures.get(rel)
            if signature is not None and max(signature[1], signature[2]) < trusted_before:
                kept_stats[rel] = [*signature, key]
        if kept.keys() != entries.keys() or kept_stats != stats:
            self._save(path, {"fingerprint": fingerprint, "entries": kept, "stats": kept_stats})
        return results

    def _save(self, path: Path, stored: dict) -> None:
        try:
            write_text_atomic(path, json.dumps(stored, separators=(",", ":")))
        except OSError as error:  # a read-only cache only costs speed
            print(f"warning: scan cache not saved ({error})", file=sys.stderr)

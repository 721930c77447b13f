"""A content-hash cache of per-file scan results.

Keyed by the SHA-256 of each file's bytes, so an edit can never be served a stale
result; the store also records a fingerprint of the scanner's own source and the Python
version, and is dropped whole when either changes. Safe to delete at any time. Location:
$CIGEN_CACHE_DIR, else $XDG_CACHE_HOME/cigen, else ~/.cache/cigen.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

from generator import scan as scan_module
from generator.atomic import write_text_atomic
from generator.errors import Severity
from generator.scan import FileScan, Finding, Marker, read_source

_FORMAT = 1


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
            Finding(line, code, message, help, Severity(severity))
            for line, code, message, help, severity in findings
        ),
    )


class ScanCache:
    """Per-root store of `content hash -> FileScan`; misses are scanned and saved."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.hits = 0
        self.misses = 0

    def _store_path(self, root: Path) -> Path:
        key = hashlib.blake2b(str(root.resolve()).encode(), digest_size=8).hexdigest()
        return self.directory / f"scan-{key}.json"

    def _load(self, path: Path, fingerprint: str) -> dict:
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(stored, dict) or stored.get("fingerprint") != fingerprint:
            return {}
        entries = stored.get("entries")
        return entries if isinstance(entries, dict) else {}

    def lookup_many(
        self, root: Path, files: list[str], scan: Callable[[bytes], FileScan]
    ) -> dict[str, FileScan]:
        fingerprint = _fingerprint()
        path = self._store_path(root)
        entries = self._load(path, fingerprint)
        kept: dict[str, list] = {}
        results: dict[str, FileScan] = {}
        for rel in files:
            data = read_source(root, rel)
            if isinstance(data, FileScan):  # unreadable: report, never cache
                results[rel] = data
                continue
            key = hashlib.sha256(data).hexdigest()[:32]
            encoded = entries.get(key)
            if encoded is None:
                self.misses += 1
                result = scan(data)
                encoded = _encode(result)
            else:
                self.hits += 1
                result = _decode(encoded)
            kept[key] = encoded
            results[rel] = result
        if kept.keys() != entries.keys():
            self._save(path, {"fingerprint": fingerprint, "entries": kept})
        return results

    def _save(self, path: Path, stored: dict) -> None:
        try:
            write_text_atomic(path, json.dumps(stored, separators=(",", ":")))
        except OSError as error:  # a read-only cache only costs speed
            print(f"warning: scan cache not saved ({error})", file=sys.stderr)

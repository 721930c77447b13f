"""Read, hash and scan many files, in worker processes where that pays.

Scanning is CPU-bound Python, so the files a cache cannot answer are spread over forked worker
processes: up to $CIGEN_JOBS of them, by default one per CPU this process may use, each with
at least MIN_FILES_PER_WORKER files (fewer, and starting a worker costs more than it saves).
Workers are forked only where that is safe and cheap: on Linux, from a process with no other
thread. Anywhere else the files are scanned here, one after another, with the same results
in the same order.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Container, Sequence

from generator.errors import UserError
from generator.scan import FileScan, read_source, scan_bytes

JOBS_ENV = "CIGEN_JOBS"
MIN_FILES_PER_WORKER = 100
CHUNKS_PER_WORKER = 8  # files vary in size: smaller chunks even out the workers' shares

Scanned = tuple[str | None, FileScan | None]  # (content key, result); see read_and_scan


def content_key(data: bytes) -> str:
    """What the scan cache files a result under: a hash of the file's bytes."""
    return hashlib.sha256(data).hexdigest()[:32]


def read_and_scan(root: str, rel: str, known: Container[str] = ()) -> Scanned:
    """A file's content key and its scan: the key is None when the file cannot be read (the
    result says why), and the result is None when the key is in `known` (not scanned)."""
    data = read_source(root, rel)
    if isinstance(data, FileScan):
        return None, data
    key = content_key(data)
    return key, (None if key in known else scan_bytes(data))


def jobs_from_env() -> int:
    """$CIGEN_JOBS, else the number of CPUs this process may run on."""
    given = os.environ.get(JOBS_ENV, "").strip()
    if not given:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not given.isdigit() or int(given) < 1:
        raise UserError(
            f"${JOBS_ENV}", 0, "bad-jobs", f"{given!r} is not a number of processes", help="set it to 1 or more"
        )
    return int(given)


def can_fork() -> bool:
    """Forking copies only the calling thread: safe where no other thread can hold a lock."""
    return sys.platform == "linux" and threading.active_count() == 1


def scan_files(root: str, rels: Sequence[str], known: Container[str] = ()) -> list[Scanned]:
    """read_and_scan for every file, in order."""
    jobs = min(jobs_from_env(), len(rels) // MIN_FILES_PER_WORKER)
    if jobs < 2 or not can_fork():
        return [read_and_scan(root, rel, known) for rel in rels]
    import multiprocessing  # here: a warm scan, with nothing to parse, should not pay for it

    chunk = max(1, len(rels) // (jobs * CHUNKS_PER_WORKER))
    with multiprocessing.get_context("fork").Pool(jobs, _remember, (root, known)) as pool:
        return pool.map(_read_and_scan_in_worker, rels, chunksize=chunk)


# In each worker: the root and known keys, set once when it starts (a fork inherits them
# without pickling), so each task sends only a path.
_worker_root = ""
_worker_known: Container[str] = ()


def _remember(root: str, known: Container[str]) -> None:
    global _worker_root, _worker_known
    _worker_root, _worker_known = root, known


def _read_and_scan_in_worker(rel: str) -> Scanned:
    return read_and_scan(_worker_root, rel, _worker_known)

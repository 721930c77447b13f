"""The timings loop: recent shard results in, a branch with new timings and plan out.

`fetch_results` downloads the results artifacts of the last days (every shard job uploads one,
`cigen-results-<job>-<shard>-<attempt>`), keeping only those of trusted runs (provenance.py) and
only files that read as results (strict JSON, bounded sizes); `cigen timings calibrate --results DIR
--previous` and `cigen render` turn them into a timings file and a plan file; `propose` commits
those files, and only files under `.github/cigen/`, to cigen's own branch and says where to open
the pull request. It opens none: a human does, from the compare link, so the repository can keep
"Allow GitHub Actions to create and approve pull requests" off (what `cigen audit` asks), and the
pull request's checks run, which they do not for one the workflow's token opened.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

from generator.errors import Problem, ProblemReport, UserError, plural, warning
from generator.github.client import GitHub, GitHubApiError, RunOrigin
from generator.names import RESULTS_ARTIFACT, RESULTS_FILE
from generator.timings.provenance import TrustedRuns
from generator.timings.runresults import results_document

PROPOSABLE = ".github/cigen/"  # the only folder a timings branch may change
MAX_RESULTS_BYTES = 16 * 2**20  # a results file unpacks to far less (a few hundred bytes a test file)
CHUNK_BYTES = 2**16
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,  # negative seeks, member names that are not UTF-8
    struct.error,
    zlib.error,
)
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")  # what the shard jobs name them; no /, no line break


@dataclass(frozen=True)
class Fetched:
    """What a fetch wrote, what it skipped on purpose (reason -> artifacts), and what it refused."""

    written: tuple[Path, ...]
    skipped: tuple[tuple[str, int], ...]
    problems: tuple[Problem, ...]  # warnings: one bad artifact never stops the loop

    def lines(self) -> list[str]:
        return [f"skipped {plural(count, 'artifact')} from {reason}" for reason, count in self.skipped]


def _one_line(text: str, limit: int = 160) -> str:
    return ascii(text)[1:-1][:limit]


def results_text(data: bytes, where: str) -> str:
    """The results file of an artifact zip, read in chunks; its declared and its actual unpacked
    size are checked before and while reading, so a small zip cannot expand into memory."""
    member_where = f"{where}/{RESULTS_FILE}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [info for info in archive.infolist() if info.filename == RESULTS_FILE]
            if not members:
                raise UserError(where, 0, "results-missing", f"the artifact holds no {RESULTS_FILE}")
            if len(members) > 1:
                raise UserError(where, 0, "results-ambiguous", f"the artifact holds {len(members)} {RESULTS_FILE}")
            (info,) = members
            if info.file_size > MAX_RESULTS_BYTES:
                message = f"declares {info.file_size:,} bytes unpacked; at most {MAX_RESULTS_BYTES:,} are read"
                raise UserError(member_where, 0, "results-too-large", message)
            chunks, size = [], 0
            with archive.open(info) as member:
                while chunk := member.read(CHUNK_BYTES):
                    size += len(chunk)
                    if size > MAX_RESULTS_BYTES:
                        message = f"unpacks to more than {MAX_RESULTS_BYTES:,} bytes (it declares {info.file_size:,})"
                        raise UserError(member_where, 0, "results-too-large", message)
                    chunks.append(chunk)
    except _ZIP_ERRORS as error:  # a corrupt zip: zipfile raises any of these (found by fuzzing)
        raise UserError(where, 0, "artifact-unreadable", f"not a readable zip: {_one_line(str(error))}") from None
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(member_where, 0, "results-json", "not UTF-8 text") from None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def trusted_results(text: str, where: str, run: RunOrigin, artifact_id: int) -> str:
    """The results file as the loop keeps it: validated, with `github` replaced by what the API
    says about its run (the file's own claims are not provenance)."""
    data = results_document(text, where)
    data["github"] = {
        "run_id": str(run.run_id),
        "run_attempt": str(run.run_attempt),
        "run_started_at": _stamp(run.started_at),
        "event": run.event,
        "branch": run.head_branch or "",
        "workflow": run.path,
        "artifact_id": str(artifact_id),
    }
    return json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n"


def fetch_results(github: GitHub, trust: TrustedRuns, days: int, out: Path, now: datetime) -> Fetched:
    """Each recent results artifact of a trusted run, as OUT/<run time>-<run id>-<artifact id>.json
    (so same-named artifacts of different runs are all kept, and names sort by run time)."""
    out.mkdir(parents=True, exist_ok=True)
    listing = github.artifacts(f"{RESULTS_ARTIFACT}-", now - timedelta(days=days))
    problems: list[Problem] = []
    if not listing.complete:
        message = (
            f"read the newest {listing.read:,} of {listing.total_count:,} artifacts, as many as one listing gives; "
            f"{listing.total_count - listing.read:,} older ones were not read, results of the last "
            f"{plural(days, 'day')} among them"
        )
        problems.append(warning("", 0, "artifacts-truncated", message))
    runs: dict[int, RunOrigin | None] = {}
    skipped: Counter[str] = Counter()
    written: list[Path] = []
    for artifact in listing.artifacts:
        where = f"artifact {artifact.artifact_id}"
        if artifact.run_id is None:
            skipped["runs GitHub does not name"] += 1
            continue
        if artifact.run_id not in runs:
            try:
                runs[artifact.run_id] = github.run_origin(artifact.run_id)
            except GitHubApiError as error:
                problems.append(warning(where, 0, "artifact-run", f"its run cannot be read: {error.problem.message}"))
                runs[artifact.run_id] = None
        run = runs[artifact.run_id]
        if run is None:
            continue
        reason = trust.untrusted_reason(run)
        if reason is not None:
            skipped[reason] += 1  # counted, never named: an untrusted run chooses its artifacts' names
            continue
        if not _ARTIFACT_NAME.match(artifact.name) or ".." in artifact.name:
            message = f"refused: the name {ascii(artifact.name[:80])} is not a plain file name"
            problems.append(warning(where, 0, "artifact-name", message))
            continue
        try:
            text = results_text(github.download_artifact(artifact.artifact_id), where)
            kept = trusted_results(text, f"{where}/{RESULTS_FILE}", run, artifact.artifact_id)
        except UserError as error:
            problems.append(
                warning(error.problem.path or where, error.problem.line, error.problem.code, error.problem.message)
            )
            continue
        except ProblemReport as report:
            problems.extend(warning(p.path, p.line, p.code, p.message) for p in report.problems)
            continue
        path = out / f"{_stamp(run.started_at).replace(':', '')}-{run.run_id}-{artifact.artifact_id}.json"
        path.write_text(kept, encoding="utf-8")
        written.append(path)
    return Fetched(tuple(sorted(written)), tuple(sorted(skipped.items())), tuple(problems))


def compare_url(server_url: str, repo: str, base: str, branch: str) -> str:
    """Where a maintainer opens the pull request: GitHub fills its title and body from the one commit."""
    return f"{server_url.rstrip('/')}/{repo}/compare/{quote(base)}...{quote(branch)}?expand=1"


def propose(github: GitHub, root: Path, files: list[str], branch: str, base: str, report: str = "") -> str | None:
    """Commit `files` (repository paths under .github/cigen/) on top of `base` to `branch`; the
    commit's sha, None when they are what `base` has already. The commit message carries `report`
    (per file: old and new seconds, samples, runs), which becomes the pull request's body."""
    outside = [path for path in files if not path.startswith(PROPOSABLE) or ".." in Path(path).parts]
    if outside:
        raise UserError(outside[0], 0, "not-proposable", f"a timings branch changes only files under {PROPOSABLE}")
    head = github.branch_head(base)
    if head is None:
        raise UserError("", 0, "no-base-branch", f"the base branch {base!r} does not exist")
    texts = {path: (root / path).read_text(encoding="utf-8") for path in files}
    changed = {path: text for path, text in texts.items() if github.file_text(path, head) != text}
    if not changed:
        return None
    names = ", ".join(sorted(changed))
    message = f"Update shard timings and plan\n\ncigen timings calibrate and cigen render changed {names}.\n"
    commit = github.commit_files(changed, head, message + (f"\n{report.strip()}\n" if report.strip() else ""))
    github.point_branch(branch, commit)
    return commit

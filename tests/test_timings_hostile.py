"""The timings loop's hostile inputs, one table (tests/cases/timings/hostile.yml): artifacts that
lie about numbers, nesting and sizes, names that leave the folder, untrusted runs, same-named
artifacts, a truncated listing, implausible jumps. Driven through the readers directly: fast."""

from __future__ import annotations

import io
import json
import random
import struct
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

from generator.errors import ProblemReport, UserError
from generator.github.answers import Answer, parse_time
from generator.github.client import Artifact, ArtifactListing, RunOrigin
from generator.registration import Registration
from generator.timings.calibrate import calibrate
from generator.timings.loop import fetch_results, results_text, trusted_results
from generator.timings.provenance import TrustedRuns
from generator.timings.samples import Measurements, Sample
from generator.timings.store import FileTiming, Timings

REPO = "octo/gpu"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
TABLE = yaml.safe_load((Path(__file__).parent / "cases/timings/hostile.yml").read_text())
TRUST = TrustedRuns(
    REPO,
    frozenset({".github/workflows/cigen-per-commit.yml", ".github/workflows/cigen-nightly.yml"}),
    frozenset({"main"}),
)
RUN_DEFAULTS = {
    "event": "push",
    "workflow": ".github/workflows/cigen-per-commit.yml",
    "branch": "main",
    "head": REPO,
    "started": "2026-11-30T09:00:00Z",
}


def cases(category: str) -> list:
    chosen = [case for case in TABLE if case["category"] == category]
    return [pytest.param(case, id=case["name"]) for case in chosen]


def zipped(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # a duplicate member name is the point of one case
        for name, data in members:
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def bomb(declared: int, actual: int) -> bytes:
    """A results member of `actual` zero bytes whose local and central headers say `declared`."""
    data = bytearray(zipped([("cigen-results.json", bytes(actual))]))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, declared)
    struct.pack_into("<I", data, central + 24, declared)
    return bytes(data)


def results_json(path: str, seconds: float) -> str:
    passed = {"path": path, "class": "passed", "attempts": [{"seconds": seconds}]}
    return json.dumps({"suite": "base-b", "shard": 0, "files": [passed]})


def artifact_zip(content: dict) -> bytes:
    """The zip a case's `content` describes (see the table's header)."""
    if "text" in content:
        return zipped([("cigen-results.json", content["text"].encode())])
    if "deep" in content:
        return zipped([("cigen-results.json", ("[" * content["deep"] + "]" * content["deep"]).encode())])
    if "members" in content:
        members = [(n, bytes.fromhex(t["hex"]) if isinstance(t, dict) else t.encode()) for n, t in content["members"]]
        return zipped(members)
    if "bomb" in content:
        return bomb(content["bomb"]["declared"], content["bomb"]["actual"])
    return content["raw"].encode()


def workflow_run(run_id: int, spec: dict) -> RunOrigin:
    spec = {**RUN_DEFAULTS, **spec}
    return RunOrigin(
        run_id=run_id,
        event=spec["event"],
        path=spec["workflow"],
        head_branch=spec["branch"],
        repository=REPO,
        head_repository=spec["head"],
        run_attempt=1,
        started_at=parse_time(spec["started"]),
    )


@dataclass
class MemoryGitHub:
    """The three calls fetch_results makes, answered from memory; every download recorded."""

    listing: ArtifactListing
    runs: dict[int, RunOrigin | None]
    zips: dict[int, bytes]
    downloaded: list[int] = field(default_factory=list)

    def artifacts(self, prefix: str, since: datetime) -> ArtifactListing:
        return self.listing

    def run_origin(self, run_id: int) -> RunOrigin:
        run = self.runs[run_id]
        if run is None:
            raise Answer("GET", f"/repos/{REPO}/actions/runs/{run_id}").error("answer.event is missing")
        return run

    def download_artifact(self, artifact_id: int) -> bytes:
        self.downloaded.append(artifact_id)
        return self.zips[artifact_id]


@pytest.mark.parametrize("case", cases("artifact"))
def test_a_hostile_artifact_is_refused_with_one_line(case, tmp_path):
    """Through fetch_results (the warning it prints) and the two readers (what they raise)."""
    run = workflow_run(11, {})
    github = MemoryGitHub(
        ArtifactListing((Artifact(7, "cigen-results-base-b-0-1", NOW, False, 11),), 1, 1, True),
        {11: run},
        {7: artifact_zip(case["content"])},
    )
    fetched = fetch_results(github, TRUST, 7, tmp_path, NOW)
    warnings = [problem.format() for problem in fetched.problems]
    if case["warning"] is None:
        assert warnings == []
        (written,) = fetched.written
        assert json.loads(written.read_text())["github"] == case["github"]
        text = results_text(artifact_zip(case["content"]), "artifact 7")
        assert json.loads(trusted_results(text, "artifact 7", run, 7))["github"] == case["github"]
    else:
        assert warnings == [case["warning"]]
        assert fetched.written == () and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", cases("listing"))
def test_only_trusted_plain_artifacts_are_kept(case, tmp_path):
    runs = {
        run_id: None if spec == "unreadable" else workflow_run(run_id, spec) for run_id, spec in case["runs"].items()
    }
    artifacts, zips = [], {}
    for entry in case["artifacts"]:
        name = entry.get("name", f"cigen-results-base-b-{entry['id']}-1")
        artifacts.append(Artifact(entry["id"], name, NOW, False, entry["run"]))
        content = entry.get("content", {"text": results_json("test/base/test_batch.py", entry.get("seconds", 400))})
        zips[entry["id"]] = artifact_zip(content)
    truncated = case.get("truncated")
    listing = ArtifactListing(
        tuple(artifacts),
        truncated["total_count"] if truncated else len(artifacts),
        truncated["read"] if truncated else len(artifacts),
        truncated is None,
    )
    github = MemoryGitHub(listing, runs, zips)

    fetched = fetch_results(github, TRUST, 7, tmp_path, NOW)

    kept = [int(json.loads(path.read_text())["github"]["artifact_id"]) for path in fetched.written]
    assert kept == case["written"]
    assert fetched.lines() == case["lines"]
    assert [problem.format() for problem in fetched.problems] == case["warnings"]
    untrusted = {
        a.artifact_id for a in artifacts if runs.get(a.run_id) is None or TRUST.untrusted_reason(runs[a.run_id])
    }
    assert not untrusted & set(github.downloaded)  # an untrusted artifact is never even downloaded
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in fetched.written]


@pytest.mark.parametrize("case", cases("bounds"))
def test_an_implausible_jump_on_few_samples_is_held_back(case):
    reg = Registration(
        path="test/base/test_x.py", line=1, backend="cuda", est_seconds=float(case["old"]), suite="base-b"
    )
    before = {("base-b", reg.path): FileTiming(float(case["old"]), 16)} if case.get("measured_before") else {}
    previous = Timings(source="before", files=before)
    samples = tuple(Sample(reg.path, float(s), "base-b", f"run {i}", 100 + i) for i, s in enumerate(case["samples"]))

    timings, report = calibrate(Measurements(samples=samples), [reg], "median", (), previous)

    held = [(c.path, c.old_seconds, c.samples, c.runs) for c in report.held]
    runs = tuple(100 + i for i in range(len(samples)))
    if case["held"]:
        assert held == [(reg.path, case["old"], len(samples), runs)]
        assert timings.files.get(("base-b", reg.path)) == before.get(("base-b", reg.path))
        assert timings.est_seconds_of(reg) == case["old"]  # the plan keeps the old value
    else:
        assert held == []
        assert timings.est_seconds_of(reg) == pytest.approx(sorted(case["samples"])[len(samples) // 2])
        assert [(c.path, c.runs) for c in report.changes] == [(reg.path, runs)]


def test_the_table_covers_every_hostile_input_the_issue_names():
    names = " ".join(case["name"] for case in TABLE)
    for needle in ("NaN", "nested", "zip bomb", "leave the output folder", "same-named", "truncated", "jump"):
        assert needle in names, needle
    assert Counter(case["category"] for case in TABLE) == {"artifact": 19, "listing": 9, "bounds": 9}


def test_a_corrupted_zip_is_one_warning_never_a_traceback():
    """Byte flips and truncations of a good artifact (zipfile raises ValueError, struct.error,
    UnicodeDecodeError... on some): every one ends as a UserError with one line, or reads."""
    good = artifact_zip({"text": results_json("test/base/test_batch.py", 400)})
    rng = random.Random(22)
    codes = Counter()
    for _ in range(3000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = data[: rng.randrange(len(data))] if rng.random() < 0.2 else data
        try:
            text = results_text(bytes(data), "artifact 7")
            trusted_results(text, "artifact 7", workflow_run(11, {}), 7)
            codes["read"] += 1
        except UserError as error:
            assert "\n" not in error.problem.format()
            codes[error.problem.code] += 1
        except ProblemReport as report:
            codes[report.problems[0].code] += 1
    assert {"artifact-unreadable", "results-missing", "read"} <= set(codes)

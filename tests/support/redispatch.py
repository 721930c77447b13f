"""Shared by the re-dispatch tests: a completed run as the REST API shows it (jobs, results artifacts,
today's re-runs), served by FakeGitHub, and the workflow_run event that announces it."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tests.act.fixture import REPOSITORY, repository_payload
from tests.support.rerun import FakeGitHub

RUN_ID = 4242
BASE = f"/repos/{REPOSITORY}"
RERUN = f"{BASE}/actions/runs/{RUN_ID}/rerun-failed-jobs"


@dataclass(frozen=True)
class ApiJob:
    """One job of the attempt, as GET .../attempts/N/jobs lists it."""

    name: str
    conclusion: str | None
    runner: str = "gpu-h100-7"
    steps: tuple[tuple[str, str | None], ...] = (("Set up job", "success"), ("Run shard", "failure"))

    def as_json(self, number: int) -> dict:
        return {
            "id": 1000 + number,
            "name": self.name,
            "status": "completed",
            "conclusion": self.conclusion,
            "runner_name": self.runner,
            "labels": ["1-gpu-h100"],
            "steps": [
                {"name": name, "status": "completed" if result else "in_progress", "conclusion": result}
                for name, result in self.steps
            ],
        }


def results_doc(
    job_name: str,
    exit_status: int = 3,
    runner: str = "gpu-h100-7",
    preflight: tuple[str, str] | None = None,  # (probe, reason) of a failed preflight
    files: Sequence[tuple[str, str, str]] = (),  # (path, class, probe)
    attempt: str = "1",
    drained: bool = False,
) -> dict:
    """A shard runner's results file, in the shape run_shard.py writes."""
    status, probe, reason = ("failed", *preflight) if preflight else ("passed", "", "GPU 0: 512 MiB used")
    doc = {
        "version": 1,
        "suite": "base",
        "shard": 0,
        "started": "2026-12-07T06:00:00.000Z",
        "finished": "2026-12-07T06:01:00.000Z",
        "exit_status": exit_status,
        "cancelled": False,
        "preflight": {"status": status, "reason": reason, "probe": probe, "seconds": 1.0, "waited_seconds": 0.0,
                      "gpus": [], "probes": []},
        "files": [
            {"path": path, "class": klass, "seconds": 1.0, "retried": False,
             "attempts": [{"class": klass, "reason": f"{klass} happened", **({"probe": p} if p else {})}]}
            for path, klass, p in files
        ],
        "runner": {"name": runner, "pool": "1-gpu-h100", "job_name": job_name},
        "github": {"run_id": str(RUN_ID), "run_attempt": attempt, "job": "base"},
    }  # fmt: skip
    if drained:
        doc["drain"] = {"drained": True, "command": "stop", "exit_status": 0, "output": "", "marker": None}
    return doc


def zipped(text: str, name: str = "cigen-results.json") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


@dataclass
class FakeRun:
    """What the API says about run RUN_ID: its attempt's jobs, its artifacts, today's re-runs."""

    jobs: Sequence[ApiJob]
    artifacts: Mapping[str, bytes] = field(default_factory=dict)  # name -> zip
    attempt: int = 1
    current_attempt: int | None = None  # the run's attempt when re-read (None: unchanged)
    reruns_today: int = 0
    first_runs_today: int = 1  # runs at their first attempt, listed before the re-run ones (newest first)
    sizes: Mapping[str, int] = field(default_factory=dict)  # size_in_bytes to claim, by name

    def serve(self, api: FakeGitHub) -> FakeGitHub:
        run = f"{BASE}/actions/runs/{RUN_ID}"
        jobs = [job.as_json(n) for n, job in enumerate(self.jobs)]
        api.on("GET", f"{run}/attempts/{self.attempt}/jobs", {"total_count": len(jobs), "jobs": jobs})
        listed = []
        for number, (name, data) in enumerate(sorted(self.artifacts.items())):
            ident = 500 + number
            listed.append({"id": ident, "name": name, "size_in_bytes": self.sizes.get(name, len(data)),
                           "expired": False})  # fmt: skip
            api.on("GET", f"{BASE}/actions/artifacts/{ident}/zip", data)
        api.on("GET", f"{run}/artifacts", {"total_count": len(listed), "artifacts": listed})
        runs = [{"id": n, "run_attempt": 1} for n in range(self.first_runs_today)]
        runs += [{"id": 9000 + n, "run_attempt": 2} for n in range(self.reruns_today)]

        def runs_page(request) -> dict:
            page, size = int(request.query.get("page", 1)), int(request.query.get("per_page", 30))
            return {"total_count": len(runs), "workflow_runs": runs[(page - 1) * size : page * size]}

        api.on("GET", f"{BASE}/actions/runs", runs_page)
        api.on("GET", run, {"id": RUN_ID, "run_attempt": self.current_attempt or self.attempt, "status": "completed"})
        api.on("POST", RERUN, {}, status=201)
        api.on("POST", f"{BASE}/issues/7/comments", {"id": 1}, status=201)
        return api


def workflow_run_event(attempt: int = 1, conclusion: str = "failure", pulls: Sequence[int] = (7,)) -> dict:
    """The workflow_run event of a completed GPU run (as GitHub sends it to the re-dispatch workflow)."""
    return {
        "action": "completed",
        "workflow_run": {
            "id": RUN_ID,
            "name": "GPU tests (per commit)",
            "run_attempt": attempt,
            "conclusion": conclusion,
            "event": "pull_request",
            "html_url": f"https://github.com/{REPOSITORY}/actions/runs/{RUN_ID}",
            "pull_requests": [{"number": number} for number in pulls],
        },
        "repository": repository_payload(),
        "sender": {"login": "octocat"},
    }


def artifact_name(job: str, attempt: int = 1) -> str:
    return f"cigen-results-{job}-0-{attempt}"


def results_artifacts(docs: Mapping[str, dict]) -> dict[str, bytes]:
    """job id -> results doc, as the attempt's artifacts."""
    return {artifact_name(job): zipped(json.dumps(doc)) for job, doc in docs.items()}

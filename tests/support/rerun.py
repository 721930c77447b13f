"""Shared by the /rerun-test tests: a small real tree and a local fake GitHub API server."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from tests.support.synth import render_file

E2E = "test/registered/rl/test_weight_checker_e2e.py"  # nightly-1-gpu -> 1-gpu-h100
# Real sglang files (from the corpus), chosen for what /rerun-test must decide about them.
CORPUS_FILES = (
    "test/registered/attention/unittests/dense/test_fa3.py",  # base-b 4-gpu-b200 and 1-gpu-large
    "test/registered/8-gpu-models/test_glm52_fp8.py",  # nightly-8-gpu-common: two pools
    "test/registered/debug_utils/test_dumper.py",  # nightly-2-gpu, disabled in the config
    "test/registered/4-gpu-models/test_deepseek_v3_cutedsl_4gpu.py",  # base-c 4-gpu-gb300, disabled in the config
    "test/registered/attention/test_kda_decode_flashinfer.py",  # CUDA registration disabled
    "test/registered/amd/accuracy/mi30x/test_deepseek_r1_eval_amd.py",  # AMD only
    "test/registered/attention/test_create_kvindices.py",  # CUDA and AMD
    "test/registered/attention/unittests/swa/test_swa_out_cache_loc.py",  # CPU only
)
CORPUS_DIRS = ("test/registered/rl/",)  # all of it: 16 files, enabled, disabled, CPU-only
MAIN = '\n\nif __name__ == "__main__":\n    unittest.main()\n'
LINK_OUT = "test/registered/custom/test_link_out.py"  # a link to a file outside the tree
OUTSIDE_SECRET = "hunter2-outside-the-tree"
CUSTOM_FILES = {
    "test/registered/custom/test_unknown_suite.py": (
        'import unittest\nregister_cuda_ci(est_time=10, suite="nightly-unknown")' + MAIN
    ),
    "test/registered/custom/test_no_marker.py": "import unittest" + MAIN,
    "test/registered/custom/test_bad_est_time.py": (
        "import unittest\nregister_cuda_ci(est_time='fast', suite='nightly-1-gpu')" + MAIN
    ),
    # Eight classes on nightly-8-gpu-common (two 8-GPU pools): `::T0 ... ::T7` is 16 jobs.
    "test/registered/custom/test_eight_gpu_classes.py": (
        "import unittest\nregister_cuda_ci(est_time=60, suite='nightly-8-gpu-common')\n"
        + "".join(f"\n\nclass T{n}(unittest.TestCase):\n    def test_a(self):\n        pass\n" for n in range(8))
        + MAIN
    ),
    # Methods of its own, of a base class in the same file, assigned, and of an imported mixin.
    "test/registered/custom/test_inherited.py": "import unittest\n\nfrom helpers import SharedMixin\n"
    "register_cuda_ci(est_time=10, suite='nightly-1-gpu')\n\n\n"
    "class Base(unittest.TestCase):\n    def test_shared(self):\n        pass\n\n\n"
    "class TestChild(Base):\n    test_alias = Base.test_shared\n\n    async def test_own(self):\n        pass\n\n\n"
    "class TestMixed(SharedMixin, unittest.TestCase):\n    pass\n" + MAIN,
    # One file whose estimate alone is over the per-comment GPU-minutes: 2 pools x 8 GPUs x 5500 s.
    "test/registered/custom/test_huge_8gpu.py": (
        "import unittest\nregister_cuda_ci(est_time=5500, suite='nightly-8-gpu-common')\n" + MAIN
    ),
    # Two registered files with one name: a bare `test_same_name.py` must be refused, with both listed.
    **{
        f"test/registered/custom/{folder}/test_same_name.py": (
            "import unittest\nregister_cuda_ci(est_time=10, suite='nightly-1-gpu')\n\n\n"
            "class TestSame(unittest.TestCase):\n    def test_a(self):\n        pass\n" + MAIN
        )
        for folder in ("a", "b")
    },
    "test/registered/custom/__init__.py": "",
    "test/registered/custom/conftest.py": "import pytest\n",
}


def write_rerun_tree(root: Path, corpus: dict) -> Path:
    """The corpus files above, synthesized as in tests/support/synth.py, plus a few hand-made ones."""
    for entry in corpus["files"]:
        if entry["file"] in CORPUS_FILES or entry["file"].startswith(CORPUS_DIRS):
            path = root / entry["file"]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_file(entry))
    for rel, text in CUSTOM_FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    # A registered-looking test file outside the tree, linked in: never read, never echoed.
    outside = root.parent / f"{root.name}-outside.py"
    outside.write_text(f"SECRET = {OUTSIDE_SECRET!r}\nregister_cuda_ci(est_time=10, suite='nightly-1-gpu')" + MAIN)
    (root / LINK_OUT).symlink_to(outside)
    return root


@dataclass(frozen=True)
class Recorded:
    """One request the fake server received."""

    method: str
    path: str
    query: dict
    headers: dict
    body: object


class FakeGitHub:
    """A stand-in for api.github.com on 127.0.0.1: canned answers by (method, path), every
    request recorded. Unknown routes answer 404. An answer may be a function of the request,
    for what GitHub computes live (a run's jobs). Use as a context manager: it always stops."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], tuple[int, object, dict]] = {}
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def on(
        self,
        method: str,
        path: str,
        body: object | Callable[[Recorded], object] = None,
        status: int = 200,
        headers: dict | None = None,
    ) -> FakeGitHub:
        """Answer `method path` with `body` (JSON, bytes sent as they are, or a function of the
        request giving either) and extra `headers`."""
        self.routes[(method, path)] = (status, body, headers or {})
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method is None or r.method == method]

    def bodies(self, method: str, path: str) -> list[object]:
        return [r.body for r in self.requests if (r.method, r.path) == (method, path)]

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        request = Recorded(
            method=handler.command,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        self.requests.append(request)
        status, body, headers = self.routes.get((handler.command, split.path), (404, {"message": "Not Found"}, {}))
        body = body(request) if callable(body) else body
        raw_body = isinstance(body, bytes)
        data = body if raw_body else b"" if body is None else json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/zip" if raw_body else "application/json")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def __enter__(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                fake._handle(self)

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.timeout = 5
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def workflow_run(
    run_id: int,
    pr: int,
    created_at: str = "2026-07-20T09:00:00Z",
    status: str = "completed",
    conclusion: str | None = "success",
    title: str | None = None,
) -> dict:
    """One run of the rerun-test workflow as GitHub lists it: its run-name says which pull request."""
    return {
        "id": run_id,
        "display_title": f"/rerun-test on #{pr}" if title is None else title,
        "event": "issue_comment",
        "status": status,
        "conclusion": conclusion,
        "created_at": created_at,
    }


def listed_job(name: str, conclusion: str | None = "success", attempt: int = 1) -> dict:
    """One job of a run as the jobs listing gives it (the budget reads the name and conclusion)."""
    return {
        "name": name,
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "run_attempt": attempt,
        "started_at": "2026-07-20T09:01:00Z",
        "completed_at": "2026-07-20T09:05:00Z" if conclusion else None,
        "html_url": "https://github.com/octo/x/actions/runs/1/job/2",
        "steps": [],
    }


def serve_runs(api: FakeGitHub, repo: str, workflow: str, runs: list[dict], jobs: dict[int, list[dict]]) -> None:
    """The workflow's runs as GitHub filters them (`status`: a status or a conclusion; `created`:
    `>=time`), 100 a page, and each run's jobs of every attempt."""

    def listing(request: Recorded) -> dict:
        state = request.query.get("status")
        since = request.query.get("created", ">=").removeprefix(">=")
        matching = [r for r in runs if state in (r["status"], r["conclusion"]) and r["created_at"] >= since]
        page, per_page = int(request.query.get("page", 1)), int(request.query.get("per_page", 30))
        return {"total_count": len(matching), "workflow_runs": matching[(page - 1) * per_page : page * per_page]}

    api.on("GET", f"/repos/{repo}/actions/workflows/{workflow}/runs", listing)
    for run_id, run_jobs in jobs.items():
        api.on("GET", f"/repos/{repo}/actions/runs/{run_id}/jobs", {"total_count": len(run_jobs), "jobs": run_jobs})

"""A rendered nightly shard in act whose files pass, fail, hang and leave a server behind: the
per-file timeout and the runner's process-group kill hold inside a real job."""

from __future__ import annotations

from tests.act.fixture import cigen_shim, dispatch_event, make_repo, recording_test
from tests.act.harness import run_workflow, running
from tests.rendering import render_tree

CONFIG = """\
version: 1
tests:
  include: ["test/**/*.py"]
backends: [cuda]
schedule:
  nightly_cron: "0 2 * * *"
pools:
  1-gpu: {labels: [1-gpu], gpus: 1, setup_minutes: 1}
defaults:
  job_timeout_minutes: 10
  per_file_timeout_seconds: 2
suites:
  nightly-1-gpu:
    trigger: nightly
    pools: [1-gpu]
    step_timeout_minutes: 5
    shard_budget_minutes: 4
workflows:
  setup: ["true"]
  cigen: cigen
  branches: [main]
"""
# One shard, run in this order (est_time decides nothing here: all fit one shard).
FILES = {"test/test_a_server.py": "server", "test/test_b_hang.py": "hang", "test/test_c_fail.py": "fail",
         "test/test_d_pass.py": "pass"}
MARK = 'register_cuda_ci(est_time=10, suite="nightly-1-gpu", nightly=True)'



def test_a_nightly_shard_times_out_hangs_kills_servers_and_keeps_going(tmp_path):
    files = {rel: recording_test(rel, behavior, [MARK]) for rel, behavior in FILES.items()}
    repo = make_repo(tmp_path / "repo", {"cigen.yml": CONFIG, **files})
    render_tree(repo.path, repo.path / ".github")
    repo.commit({}, "cigen render")
    result = run_workflow(repo.path, "nightly.yml", "workflow_dispatch", dispatch_event({"suite": "all"}),
                          labels=["1-gpu"], bin_dirs=[cigen_shim(tmp_path / "bin")], work=tmp_path / "act")
    assert result.results() == {"nightly-1-gpu": "failure"}
    job = result.job("nightly-1-gpu", shard=0)
    assert sorted(job.matrix["files"]) == sorted(FILES)
    # --keep-going: every file runs; the hang (class timeout) is retried once, the failure (class test) never
    expected = sorted([*FILES.items(), ("test/test_b_hang.py", "hang")])
    assert sorted((run.file, run.behavior) for run in job.files) == expected
    server = next(run for run in job.files if run.behavior == "server")
    assert server.pgid == server.pid  # run-shard gives each file its own process group
    # The server outlived its test; run-shard's group kill ended it before the job did.
    assert result.leftovers == [] and not running(server.server_pid)
    assert not any(running(run.pid) for run in job.files if run.behavior == "hang")
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2].strip() for line in job.summary.splitlines()
            if line.startswith("| `")}
    assert rows == {"test/test_a_server.py": "passed", "test/test_b_hang.py": "timeout",
                    "test/test_c_fail.py": "test", "test/test_d_pass.py": "passed"}

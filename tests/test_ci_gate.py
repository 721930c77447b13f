"""The CI gate the generated workflows ship (.github/cigen/ci_gate.py): which suites a run starts,
decided from the event, the live pull request and the pull request's diff; and the finish check."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from generator.config import parse_config
from generator.config_document import default_config_text
from generator.render.jobs import with_ci_paths
from generator.shipped import ci_gate
from tests.support.files import write_files
from tests.support.rerun import FakeGitHub

GATE = Path(ci_gate.__file__)
REPO = "octo/gpu"
PER_COMMIT = {
    "workflow": "per-commit",
    "pull_request": {"label": "run-ci", "skip_drafts": True, "paths": ["src/**", "test/**", "kernel/**"]},
    "suites": {
        "base": {"trigger": "per-commit"},
        "extra": {"trigger": "per-commit", "label": "run-ci-extra"},
        "kernel": {"trigger": "per-commit", "paths": ["kernel/**"]},
    },
}
NIGHTLY = {
    "workflow": "nightly",
    "crons": ["0 2 * * *", "0 4 * * 0"],
    "suites": {
        "nightly": {"trigger": "nightly"},
        "weekly": {"trigger": "nightly", "cron": "0 4 * * 0"},
        "stress": {"trigger": "manual"},
    },
}
NO_FILES = {"est_seconds": 0, "files": []}
PLAN = {"version": 1, "suites": {"base": {"shards": [NO_FILES, NO_FILES]}, "kernel": {"shards": [NO_FILES]}}}


def git(cwd: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def merge_commit(tmp_path: Path, changed: str) -> Path:
    """A repository checked out at a pull request's merge commit whose change is `changed`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    write_files(repo, {"README.md": "base\n", "plan.json": json.dumps(PLAN)})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "pr")
    write_files(repo, {changed: "change\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pr")
    git(repo, "checkout", "-q", "main")
    write_files(repo, {"kernel/moved-on-main.cu": "not the pull request's change\n"})
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "main")
    git(repo, "merge", "-q", "--no-ff", "pr", "-m", "merge")  # what a pull request's checkout is
    return repo


def decide(tmp_path: Path, monkeypatch, gates: dict, event_name: str, event: dict, api: FakeGitHub | None = None):
    """Run `ci_gate.py decide` as the gate job does; (exit status, outputs, stdout) back."""
    (tmp_path / "event.json").write_text(json.dumps(event))
    output = tmp_path / "output"
    output.write_text("")
    env = {
        "CIGEN_GATES": json.dumps(gates),
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(tmp_path / "event.json"),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": "t0ken",
        "GITHUB_API_URL": api.url if api else "http://127.0.0.1:9",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status = ci_gate.main(["decide", "--plan", "plan.json"])
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return status, {name: value if name == "blocked" else json.loads(value) for name, value in outputs.items()}


def pull(number: int = 7, labels: tuple[str, ...] = (), draft: bool = False) -> dict:
    return {"number": number, "draft": draft, "labels": [{"name": label} for label in labels]}


def pull_event(number: int = 7, labels: tuple[str, ...] = ()) -> dict:
    return {"pull_request": pull(number, labels)}


@pytest.mark.parametrize(
    ("changed", "labels", "draft", "runs"),
    [
        ("src/app.py", ("run-ci",), False, {"base": True, "extra": False, "kernel": False}),
        ("kernel/rmsnorm.cu", ("run-ci", "run-ci-extra"), False, {"base": True, "extra": True, "kernel": True}),
        ("src/app.py", (), False, {"base": False, "extra": False, "kernel": False}),  # no run-ci
        ("src/app.py", ("run-ci",), True, {"base": False, "extra": False, "kernel": False}),  # a draft
        ("docs/index.md", ("run-ci", "run-ci-extra"), False, {"base": False, "extra": False, "kernel": False}),
    ],
    ids=["labelled", "extra and kernel", "no run-ci label", "draft", "docs only"],
)
def test_pull_requests_are_gated_by_live_labels_drafts_and_paths(tmp_path, monkeypatch, changed, labels, draft, runs):
    monkeypatch.chdir(merge_commit(tmp_path, changed))
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, labels, draft))
        status, outputs = decide(tmp_path, monkeypatch, PER_COMMIT, "pull_request", pull_event(7), api)
        assert [request.headers["authorization"] for request in api.requests] == ["Bearer t0ken"]
    assert status == 0
    assert outputs == {
        "run": runs,
        "shards": {"base": [0, 1], "extra": [], "kernel": [0]},
        "parallel": {"base": 2, "extra": 1, "kernel": 1},
        "blocked": "",
        "builds": {},
        "changed": {},
    }


def test_labels_are_read_live_not_from_the_event(tmp_path, monkeypatch):
    """A label added after the push is seen on a re-run; one removed is gone."""
    monkeypatch.chdir(merge_commit(tmp_path, "src/app.py"))
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, ("run-ci",)))
        _, outputs = decide(tmp_path, monkeypatch, PER_COMMIT, "pull_request", pull_event(7, labels=()), api)
        assert outputs["run"]["base"] is True
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, ()))
        _, outputs = decide(tmp_path, monkeypatch, PER_COMMIT, "pull_request", pull_event(7, labels=("run-ci",)), api)
        assert outputs["run"]["base"] is False


@pytest.mark.parametrize(
    "answer",
    [None, {"number": 8, "labels": []}, {"number": 7}, ["not", "an", "object"]],
    ids=["api down", "another pull request", "no labels", "not an object"],
)
def test_a_pull_request_that_cannot_be_read_fails_closed(tmp_path, monkeypatch, capsys, answer):
    monkeypatch.chdir(merge_commit(tmp_path, "src/app.py"))
    with FakeGitHub() as api:
        if answer is not None:
            api.on("GET", f"/repos/{REPO}/pulls/7", answer)
        status, outputs = decide(tmp_path, monkeypatch, PER_COMMIT, "pull_request", pull_event(7), api)
    assert (status, outputs) == (1, {})  # nothing written: every suite job is skipped, and so fails finish
    assert capsys.readouterr().out.startswith("::error title=cigen gate::")


def test_pushes_and_dispatches_run_every_suite_without_asking_the_api(tmp_path, monkeypatch):
    monkeypatch.chdir(merge_commit(tmp_path, "docs/index.md"))
    for event_name in ("push", "workflow_dispatch"):
        status, outputs = decide(tmp_path, monkeypatch, PER_COMMIT, event_name, {})
        assert (status, outputs["run"]) == (0, {"base": True, "extra": True, "kernel": True})


@pytest.mark.parametrize(
    ("event_name", "event", "runs"),
    [
        ("schedule", {"schedule": "0 2 * * *"}, {"nightly": True, "weekly": False, "stress": False}),
        ("schedule", {"schedule": "0 4 * * 0"}, {"nightly": False, "weekly": True, "stress": False}),
        ("workflow_dispatch", {"inputs": {"suite": "all"}}, {"nightly": True, "weekly": True, "stress": False}),
        ("workflow_dispatch", {"inputs": {"suite": "stress"}}, {"nightly": False, "weekly": False, "stress": True}),
        ("workflow_dispatch", {"inputs": {"suite": "weekly"}}, {"nightly": False, "weekly": True, "stress": False}),
    ],
    ids=["nightly cron", "weekly cron", "dispatch all", "dispatch manual", "dispatch one"],
)
def test_nightly_runs_the_suites_of_the_cron_or_the_dispatch(tmp_path, monkeypatch, event_name, event, runs):
    write_files(tmp_path, {"plan.json": json.dumps(PLAN)})
    monkeypatch.chdir(tmp_path)
    status, outputs = decide(tmp_path, monkeypatch, NIGHTLY, event_name, event)
    assert (status, outputs["run"]) == (0, runs)


def test_the_summary_says_why(tmp_path, monkeypatch):
    monkeypatch.chdir(merge_commit(tmp_path, "src/app.py"))
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, ("run-ci",)))
        decide(tmp_path, monkeypatch, PER_COMMIT, "pull_request", pull_event(7), api)
    assert (tmp_path / "summary.md").read_text().splitlines() == [
        "### Which suites run (pull_request)",
        "",
        "| suite | runs | shards | at once | why |",
        "|---|---|---|---|---|",
        "| `base` | yes | 2 | 2 | runs |",
        "| `extra` | no | 0 | 1 | needs the label 'run-ci-extra' |",
        "| `kernel` | no | 1 | 1 | its paths did not change |",
    ]


SGLANG_GATE = {**PER_COMMIT["pull_request"], "gated_off": "fail", "types": ["opened", "synchronize", "reopened"]}


@pytest.mark.parametrize(
    ("changed", "labels", "draft", "blocked"),
    [
        (
            "src/app.py",
            (),
            False,
            "No GPU test ran: the pull request lacks the label `run-ci`. To run CI, add the "
            "`run-ci` label; then re-run this workflow.",
        ),
        (
            "src/app.py",
            ("run-ci",),
            True,
            "No GPU test ran: the pull request is a draft. To run CI, mark the pull "
            "request ready for review; then re-run this workflow.",
        ),
        ("docs/index.md", ("run-ci",), False, ""),  # nothing to test: the check passes, as sglang's
        ("src/app.py", ("run-ci",), False, ""),
    ],
    ids=["no run-ci label", "draft", "docs only", "labelled"],
)
def test_a_gated_off_pull_request_fails_the_required_check_when_configured(
    tmp_path, monkeypatch, capsys, changed, labels, draft, blocked
):
    """gated_off: fail (sglang's pr-gate): the gate says why and how to get CI, and finish fails on it."""
    monkeypatch.chdir(merge_commit(tmp_path, changed))
    gates = {**PER_COMMIT, "pull_request": SGLANG_GATE}
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, labels, draft))
        status, outputs = decide(tmp_path, monkeypatch, gates, "pull_request", pull_event(7), api)
    assert (status, outputs["blocked"]) == (0, blocked)
    capsys.readouterr()
    needs = {"gate": {"result": "success", "outputs": {"blocked": blocked}}, "base": {"result": "skipped"}}
    monkeypatch.setenv("NEEDS", json.dumps(needs))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "finish.md"))
    assert ci_gate.main(["finish"]) == (1 if blocked else 0)
    assert capsys.readouterr().out.splitlines() == ([f"::error title=CI did not run::{blocked}"] if blocked else [])
    summary = (tmp_path / "finish.md").read_text().splitlines()
    assert summary[:3] == (
        ["### Result: failed", "", blocked] if blocked else ["### Result: passed", "", "| job | result |"]
    )


def test_the_blocked_line_says_a_label_starts_a_run_where_labeled_is_a_trigger():
    gate = {"label": "run-ci", "types": ["opened", "labeled"]}
    assert ci_gate.blocked_line(gate, draft=False) == (
        "No GPU test ran: the pull request lacks the label `run-ci`. To run CI, add the `run-ci` label; "
        "that starts a new run."
    )


@pytest.mark.parametrize(
    ("changed", "runs"),
    [("docs/guide.md", False), ("src/notes.md", False), ("src/app.py", True), ("src/app.md.py", True)],
)
def test_exclusions_in_paths_leave_out_what_they_match(tmp_path, monkeypatch, changed, runs):
    """`!**/*.md` (sglang's `!(*.md)`): a change to docs alone is no change to test."""
    monkeypatch.chdir(merge_commit(tmp_path, changed))
    gates = {**PER_COMMIT, "pull_request": {**PER_COMMIT["pull_request"], "paths": ["src/**", "docs/**", "!**/*.md"]}}
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, ("run-ci",)))
        _, outputs = decide(tmp_path, monkeypatch, gates, "pull_request", pull_event(7), api)
    assert outputs["run"]["base"] is runs


@pytest.mark.parametrize(
    ("event_name", "labels", "parallel"),
    [
        ("pull_request", ("run-ci",), {"base": 1, "big": 3, "extra": 1, "kernel": 1}),  # size // 3, at least 1
        ("pull_request", ("run-ci", "high priority"), {"base": 2, "big": 10, "extra": 1, "kernel": 1}),
        ("schedule", (), {"base": 2, "big": 10, "extra": 1, "kernel": 1}),
        ("workflow_dispatch", (), {"base": 2, "big": 10, "extra": 1, "kernel": 1}),
    ],
    ids=["pull request", "high priority", "schedule", "dispatch"],
)
def test_the_throttle_limits_pull_requests_unless_lifted(tmp_path, monkeypatch, event_name, labels, parallel):
    """sglang's compute_partitions: max(size // 3, 1) shards at once on a pull request."""
    repo = merge_commit(tmp_path, "src/app.py")
    plan = {"version": 1, "suites": {**PLAN["suites"], "big": {"shards": [NO_FILES] * 10}}}
    write_files(repo, {"plan.json": json.dumps(plan)})
    monkeypatch.chdir(repo)
    gates = {
        **PER_COMMIT,
        "suites": {**PER_COMMIT["suites"], "big": {"trigger": "per-commit"}},
        "throttle": {"divisor": 3, "events": ["pull_request"], "lift_label": "high priority"},
    }
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, labels))
        status, outputs = decide(tmp_path, monkeypatch, gates, event_name, pull_event(7), api)
    assert (status, outputs["parallel"]) == (0, parallel)


@pytest.mark.parametrize(
    ("results", "status"),
    [
        ({"gate": "success", "a": "success", "b": "skipped"}, 0),  # skipped by its gate: fine
        ({"gate": "success", "a": "failure", "b": "skipped"}, 1),
        ({"gate": "success", "a": "cancelled"}, 1),
        ({"gate": "failure", "a": "skipped"}, 1),
    ],
)
def test_finish_fails_only_when_a_job_failed_or_was_cancelled(monkeypatch, capsys, tmp_path, results, status):
    monkeypatch.setenv("NEEDS", json.dumps({job: {"result": result, "outputs": {}} for job, result in results.items()}))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    assert ci_gate.main(["finish"]) == status
    failed = [f"::error title={r}::{job} {r}" for job, r in sorted(results.items()) if r in ("failure", "cancelled")]
    assert capsys.readouterr().out.splitlines() == failed


@pytest.mark.parametrize(
    ("changed", "runs"),
    [
        ("cigen.yml", True),
        (".github/workflows/cigen-per-commit.yml", True),
        (".github/cigen/plan.json", True),
        ("python/sglang/srt/server.py", True),
        ("docs/index.md", False),
        ("python/sglang/README.md", False),
    ],
)
def test_a_pull_request_changing_only_the_ci_runs_it(tmp_path, monkeypatch, changed, runs):
    """The sglang template's gate, as rendered, passes a labelled pull request that changes
    only cigen.yml or a generated workflow (it used to say "changes no file the GPU suites test")."""
    config = parse_config(default_config_text(), "cigen.yml")
    configured = [p for p in config.workflows.pull_requests.paths if p not in ci_gate_files()]
    gates = {**PER_COMMIT, "pull_request": {"label": "run-ci", "paths": with_ci_paths(config, configured)}}
    monkeypatch.chdir(merge_commit(tmp_path, changed))
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, ("run-ci",)))
        _, outputs = decide(tmp_path, monkeypatch, gates, "pull_request", pull_event(7), api)
    assert outputs["run"]["base"] is runs


def ci_gate_files() -> set[str]:
    """What the template lists for the CI's own files: left out above, so the test shows that cigen adds them."""
    return {"cigen.yml", ".github/workflows/cigen-*.yml", ".github/cigen/**"}


@pytest.mark.parametrize(
    ("event_name", "changed", "labels", "built", "kernel_labels"),
    [
        ("pull_request", "kernel/rmsnorm.cu", ("run-ci",), True, True),
        ("pull_request", "kernel/README.md", ("run-ci",), False, False),  # docs: no build, no kernel runner
        ("pull_request", "src/app.py", ("run-ci",), False, False),
        ("pull_request", "kernel/rmsnorm.cu", (), False, False),  # gated off: nothing runs, nothing builds
        ("push", "kernel/rmsnorm.cu", (), False, False),  # sglang builds for pull requests only
    ],
    ids=["kernel change", "kernel docs", "other change", "no run-ci", "push"],
)
def test_a_build_runs_when_its_paths_change_and_a_suite_needs_it(
    tmp_path, monkeypatch, event_name, changed, labels, built, kernel_labels
):
    monkeypatch.chdir(merge_commit(tmp_path, changed))
    gates = {
        **PER_COMMIT,
        "builds": {"kernel": {"paths": ["kernel/**", "!**/*.md"], "suites": ["base"]}},
        "changed": {"4-gpu-b200": ["kernel/**", "!**/*.md"]},
    }
    with FakeGitHub() as api:
        api.on("GET", f"/repos/{REPO}/pulls/7", pull(7, labels))
        status, outputs = decide(tmp_path, monkeypatch, gates, event_name, pull_event(7), api)
    assert (status, outputs["builds"], outputs["changed"]) == (0, {"kernel": built}, {"4-gpu-b200": kernel_labels})


def test_a_build_without_paths_runs_whenever_a_suite_that_needs_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(merge_commit(tmp_path, "src/app.py"))
    gates = {**PER_COMMIT, "builds": {"wheel": {"paths": [], "suites": ["base"]}, "other": {"suites": ["extra"]}}}
    status, outputs = decide(tmp_path, monkeypatch, gates, "push", {}, None)
    assert (status, outputs["builds"]) == (0, {"wheel": True, "other": True})


def test_an_output_that_would_not_stay_one_line_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """The gate writes GITHUB_OUTPUT through step_files, the package's one rule for it."""
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    ci_gate.write_output("run", '{"a": true}')
    for value in ("x\ny", "x\ry", "x\x1by", "x\u2028y"):
        with pytest.raises(ci_gate.GateError, match="^output run: the value holds "):
            ci_gate.write_output("run", value)
    assert output.read_text() == 'run={"a": true}\n'

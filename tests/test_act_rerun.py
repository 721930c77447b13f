"""/rerun-test in act, out of the box: the sglang template with no configuration at all (no cigen.yml),
rendered and committed as a user would, end to end.

Nothing of cigen is installed: the gate and report jobs run the shipped `.github/cigen/rerun_gate.py`
with the host's python3, and each test job runs its suite's CI job on that pool (set-up script, env,
working directory, the runner's options). The GitHub API is the fake of tests/act/github_api.py: the
commenter's permission, the pull request and its files, its push log, this workflow's earlier runs and
their jobs (what the budgets count), reactions, comments, statuses, and the run's jobs as the
recording files report them. Each scenario's set-up scripts are stubs that record which job ran them.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml

from generator.names import shard_job_ids
from generator.shipped.rerun_gate import load_setup
from generator.shipped.rerun_select import RerunRejected, job_name, parse_comment
from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import (
    REPO_ROOT,
    REPOSITORY,
    FixtureRepo,
    fake_gpu_bin,
    issue_comment_event,
    make_repo,
    recording_test,
    render_and_commit,
)
from tests.act.github_api import REPLY_ID, PullState, bodies, bot_answer, serve_rerun
from tests.act.harness import ActRun, run_workflow, workflow_labels
from tests.support.rerun import listed_job, workflow_run

WORKFLOW = "cigen-rerun-test.yml"
PR = 7
SMOKE = "test/registered/core/test_smoke.py"
MIXED = "test/registered/extra/test_mixed_chunk.py"
BATCH = "test/registered/core/test_batch.py"
DEEPEP = "test/registered/ep/test_deepep_low_latency.py"
SUITES = {  # file -> the suite it registers in (each a suite of the sglang template)
    SMOKE: "base-a-test-1-gpu-small",
    MIXED: "extra-a-test-1-gpu-large",
    BATCH: "base-b-test-1-gpu-small",
    DEEPEP: "base-c-test-deepep-4-gpu-h100",
}
E2E = "test/registered/rl/test_weight_checker_e2e.py"
E2E_MARK = 'register_cuda_ci(est_time=150, suite="nightly-1-gpu", nightly=True)'
MIXED_CLASS = (
    "\nimport unittest\n\n\nclass TestMixedChunk(unittest.TestCase):\n    def test_mixed(self):\n        pass\n\n"
)
# Every set-up script the sglang template's jobs run is a stub recording which job ran it, from where.
SETUP_STUB = """\
#!/bin/bash
printf '{"kind": "setup", "action": "setup %s", "inputs": {}, "job": "%s", "workspace": "%s", "cwd": "%s"}\\n' \\
  "$0" "$GITHUB_JOB" "$GITHUB_WORKSPACE" "$PWD" >> "$CIGEN_ACT_RECORDS"
"""
SETUP_SCRIPTS = (
    "scripts/ci/cuda/ci_install_dependency.sh",
    "scripts/ci/cuda/ci_install_deepep.sh",
    "scripts/ci/cuda/ci_cleanup_venv.sh",
)
HOOK_STUB = """\
import json, os, sys
record = {"kind": "setup", "action": "setup " + sys.argv[0], "inputs": {}, "job": os.environ["GITHUB_JOB"],
          "workspace": os.environ["GITHUB_WORKSPACE"], "cwd": os.getcwd()}
with open(os.environ["CIGEN_ACT_RECORDS"], "a") as records:
    records.write(json.dumps(record) + "\\n")
"""
HOOK_SCRIPTS = ("scripts/ci/cuda/warmup_deep_gemm.py", "scripts/ci/cuda/warmup_server.py")  # the deepep warm-ups
HOSTILE = {case["name"]: case for case in yaml.safe_load((REPO_ROOT / "tests/cases/rerun/hostile.yml").read_text())}
# A few rows of the hostile-comment table (tests/test_rerun.py runs all of them through the parser and
# the gate): in the real workflow too, each is refused with its reason and nothing is created.
HOSTILE_IN_ACT = ("$() as selector", "backticks in test name", "${IFS}")
CREATED = "2026-07-20T10:00:00Z"  # every comment's time (issue_comment_event's default)
TITLE = f"/rerun-test on #{PR}"
RUN_SECONDS_LIMIT = 180


def registered(path: str, behavior: str = "pass") -> str:
    return recording_test(path, behavior, [f'register_cuda_ci(est_time=60, suite="{SUITES[path]}")'])


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    """No cigen.yml: the sglang template. Pull request #7 changes BATCH (a registered test file) and a
    source file; its head is what the test jobs check out, main stays checked out."""
    files = {path: registered(path) for path in SUITES}
    files[MIXED] = registered(MIXED).replace("\nif __name__", MIXED_CLASS + "\nif __name__")
    files.update(dict.fromkeys(SETUP_SCRIPTS, SETUP_STUB))
    files.update(dict.fromkeys(HOOK_SCRIPTS, HOOK_STUB))
    files[E2E] = recording_test(E2E, "pass", [E2E_MARK])  # the template's model test names it
    files["python/sglang/srt/server.py"] = "# the server\n"
    repo = render_and_commit(make_repo(tmp_path_factory.mktemp("rerun") / "repo", files))
    assert not (repo.path / "cigen.yml").exists()
    repo.pull_request({BATCH: registered(BATCH) + "# a fix\n", "python/sglang/srt/server.py": "# fixed\n"}, number=PR)
    repo.checkout()
    return repo


def pull(repo: FixtureRepo) -> PullState:
    head = (repo.path / f".git/refs/pull/{PR}/head").read_text().strip()
    return PullState(PR, head, repo.head, "feature")


CHANGED = ({"filename": BATCH, "status": "modified"}, {"filename": "python/sglang/srt/server.py", "status": "modified"})


def targets(repo: FixtureRepo, body: str) -> list:
    """What the gate decides for `body` (the shipped parser over the committed registry): the fake API
    names the run's jobs after them, as `name: ${{ matrix.target.job_name }}` does."""
    setup = load_setup(str(repo.path / ".github/cigen/rerun-test.json"))
    changed = tuple(entry["filename"] for entry in CHANGED)
    return list(parse_comment(body, setup.registry, str(repo.path), changed=changed).targets)


def earlier_request(run_id: int, jobs: int) -> tuple[dict, list[dict]]:
    """An earlier accepted request on #7 whose run ran `jobs` test jobs (2 GPU-minutes each)."""
    names = [job_name(f"test/registered/core/test_{n}.py", SUITES[SMOKE], "1-gpu-5090", 2) for n in range(jobs)]
    return workflow_run(run_id, PR, "2026-07-20T08:00:00Z"), [listed_job(name) for name in names]


def flood() -> tuple[list[dict], list[dict]]:
    """2,500 outsider comments of the last day, `/rerun-test` ones included: each started a run that
    the gate's `if:` skipped (run-name "comment on #N"), and each is in the comments listing."""
    runs = [
        workflow_run(5000 + n, PR, "2026-07-20T09:00:00Z", conclusion="skipped", title=f"comment on #{PR}")
        for n in range(2500)
    ]
    comments = [
        {
            "id": 9000 + n,
            "issue_url": f"https://api.github.com/repos/{REPOSITORY}/issues/{PR}",
            "user": {"login": f"outsider{n}", "type": "User"},
            "created_at": "2026-07-20T09:00:00Z",
            "body": f"/rerun-test {SMOKE}",
        }
        for n in range(2500)
    ]
    return runs, comments


EDITED_ANSWER = bot_answer(PR, 0, 0, "2026-07-20T08:00:30Z")  # a writer edited the bot's answer to read zero


def per_commit_job(repo: FixtureRepo, path: str) -> dict:
    """The per-commit job of the file's suite on its (only) pool."""
    suite = SUITES[path]
    jobs = yaml.safe_load((repo.path / ".github/workflows/cigen-per-commit.yml").read_text())["jobs"]
    pools = load_setup(str(repo.path / ".github/cigen/rerun-test.json")).registry.jobs
    [pool] = [job.pool for job in pools.values() if job.suite == suite]
    return jobs[shard_job_ids(suite, (pool,))[0]]


def literal_env(job: dict) -> dict[str, str]:
    return {name: value for name, value in job.get("env", {}).items() if "${{" not in str(value)}


def act(repo: FixtureRepo, work: Path, body: str, **scenario) -> ActRun:
    """One comment on #7 through the rerun-test workflow. scenario: login/association of the
    commenter, runs/jobs/comments the API lists, env for act (a run attempt), record_env (the names
    the recording files write down)."""
    login, association = scenario.get("login", "alice"), scenario.get("association", "MEMBER")
    try:
        planned = targets(repo, body)
    except RerunRejected:  # a comment the gate refuses names no job
        planned = []
    with serve_rerun(
        pull(repo),
        {"alice": "write"},
        records=work / "act" / "records.jsonl",
        targets=planned,
        runs=scenario.get("runs", []),
        run_jobs=scenario.get("jobs", {}),
        comments=scenario.get("comments", []),
        changed=CHANGED,
    ) as api:
        env = {"CIGEN_ACT_RECORD_ENV": ",".join(scenario.get("record_env", ())), **scenario.get("env", {})}
        return run_workflow(
            repo.path,
            WORKFLOW,
            "issue_comment",
            issue_comment_event(PR, body, login, association, created_at=CREATED),
            labels=workflow_labels(repo.path / ".github/workflows" / WORKFLOW),
            work=work / "act",
            api=api,
            env=env,
            bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
            timeout=RUN_SECONDS_LIMIT,
        )


REQUESTS = {
    "bare name": ("/rerun-test test_smoke.py", SMOKE),
    "registered/ form": (f"/rerun-test {MIXED.removeprefix('test/')}::TestMixedChunk.test_mixed", MIXED),
    "changed": ("/rerun-test --changed", BATCH),
    "deepep": ("/rerun-test test_deepep_low_latency.py", DEEPEP),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Where the runs work, and the folder of the files hostile comments try to create."""
    folder = tmp_path_factory.mktemp("rerun-runs")
    (folder / "markers").mkdir()
    return folder


def slug(name: str) -> str:
    """A folder name for a scenario, unique per name ('$() as selector' and '${IFS}' are mostly punctuation)."""
    readable = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def marker(root: Path, name: str) -> Path:
    """The file a hostile comment tries to create (its folder exists, so a `touch` would succeed)."""
    return root / "markers" / slug(name)


@pytest.fixture(scope="module")
def runs(repo, root) -> Runs:
    scenarios = {}
    for name in HOSTILE_IN_ACT:
        scenarios[name] = (HOSTILE[name]["comment"].replace("{marker}", str(marker(root, name))), {})
    for name, (body, path) in REQUESTS.items():
        record_env = sorted(literal_env(per_commit_job(repo, path)))
        scenarios[name] = (body, {"record_env": record_env})
    flood_runs, flood_comments = flood()
    spent_run, spent_jobs = earlier_request(900, 16)
    scenarios.update(
        {
            "outsider flood": (f"/rerun-test {SMOKE}", {"runs": flood_runs, "comments": flood_comments}),
            "edited answer": (
                f"/rerun-test {SMOKE}",
                {"runs": [spent_run], "jobs": {900: spent_jobs}, "comments": [EDITED_ANSWER]},
            ),
            "re-run of all jobs": (f"/rerun-test {SMOKE}", {"env": {"GITHUB_RUN_ATTEMPT": "2"}}),
            "stranger": (f"/rerun-test {SMOKE}", {"login": "mallory", "association": "CONTRIBUTOR"}),
            "plain comment": ("LGTM, thanks", {}),
        }
    )

    def runner(name: str):
        body, scenario = scenarios[name]
        return lambda: act(repo, root / "work" / slug(name), body, **scenario)

    return run_concurrently({name: runner(name) for name in scenarios})


def rerun_results(result: ActRun) -> dict[str, str]:
    """The test jobs that were not skipped, and their results."""
    return {
        job: outcome for job, outcome in result.results().items() if job.startswith("rerun-") and outcome != "skipped"
    }


@pytest.mark.parametrize("name", REQUESTS)
def test_a_writers_request_runs_exactly_the_named_test_in_its_pools_ci_job(runs, repo, name):
    """Bare name, `registered/...::Cls.m`, `--changed` and a deepep file: each runs exactly its test, in
    the job of its suite on its pool, with the per-commit job's env, set-up script and working directory."""
    body, path = REQUESTS[name]
    result = runs[name]
    assert result.errors == [] and result.leftovers == [], result.text
    [target] = targets(repo, body)
    ran_jobs = {job: outcome for job, outcome in result.results().items() if outcome != "skipped"}
    assert ran_jobs == {"gate": "success", target.job: "success", "report": "success"}  # every other job skipped
    [ran] = result.files
    test = ["TestMixedChunk.test_mixed"] if path == MIXED else []
    assert (ran.file, ran.job, ran.data["argv"][1:]) == (path, target.job, [*test, "-f"])
    ci = per_commit_job(repo, path)
    assert ran.data["cwd"] == f"{ran.workspace}/test"  # the per-commit job's working directory
    [command] = [step["run"] for step in ci["steps"] if "run_shard.py run" in step.get("run", "")]
    assert "--workdir test" in command
    assert ran.data["env"] == literal_env(ci) and ran.data["env"]["SGLANG_IS_IN_CI"] == "true"
    scripts = [
        script
        for step in ci["steps"]
        for script in re.findall(r"(?:bash|python3) (scripts/\S+\.(?:sh|py))", step.get("run", ""))
    ]
    setups = [(call.action, call.job) for call in result.actions if call.action.startswith("setup ")]
    assert setups == [(f"setup {script}", target.job) for script in scripts]
    if path == DEEPEP:  # its install, its warm-ups, and the cleanup every job runs
        assert scripts == ["scripts/ci/cuda/ci_install_deepep.sh", *HOOK_SCRIPTS, "scripts/ci/cuda/ci_cleanup_venv.sh"]
    head = pull(repo).head_sha
    checkouts = {call.job: call.data["commit"] for call in result.actions if call.action == "actions/checkout"}
    assert checkouts == {"gate": repo.head, target.job: head, "report": repo.head}
    statuses = [(b["context"], b["state"]) for b in bodies(result.api_calls, "POST", f"/statuses/{head}")]
    assert statuses == [(target.status_context, "pending"), (target.status_context, "success")]
    [answer] = bodies(result.api_calls, "PATCH", f"/issues/comments/{REPLY_ID}")
    assert answer["body"].splitlines()[1].startswith(f"/rerun-test by @alice at `{head[:12]}`: 1/1 passed")


def test_nothing_of_cigen_is_installed(runs, repo):
    """The gate and report run the shipped copies with the runner's python3: no workflow the template
    renders installs cigen, and the rerun workflow installs nothing at all."""
    workflows = sorted((repo.path / ".github/workflows").glob("*.yml"))
    assert len(workflows) >= 3
    for workflow in workflows:
        assert re.search(r"pip3? install[^\n]*cigen", workflow.read_text()) is None, workflow.name
    assert "pip" not in (repo.path / ".github/workflows" / WORKFLOW).read_text()
    assert runs["bare name"].job("gate").outcomes() == {
        "Check out the default branch": "success",
        "Check permission, comment, head commit and budget": "success",
    }


def test_an_outsider_flood_does_not_block_a_writer(runs):
    """Finding: 20 pages of outsider comments made every request fail for a day. The budget now reads
    this workflow's runs, never comments: the outsiders' runs were skipped, and skipped runs are never
    even listed (the listing asks for each other state)."""
    result = runs["outsider flood"]
    assert result.results()["gate"] == "success" and rerun_results(result) == {
        "rerun-base-a-test-1-gpu-small-on-1-gpu-5090": "success"
    }
    assert not any(call.path.endswith("/issues/comments") and call.method == "GET" for call in result.api_calls)
    listed = {call.query.get("status") for call in result.api_calls if call.path.endswith(f"/{WORKFLOW}/runs")}
    assert "skipped" not in listed and "completed" not in listed and {"success", "in_progress"} <= listed


def test_an_edited_bot_answer_does_not_reset_the_budget(runs):
    """Finding: a writer edited the bot's answer to read `jobs=0 gpu-minutes=0` and the next request was
    accepted. The count now comes from the earlier request's run and its 16 test jobs, which nobody can
    edit; the edited answer is never read."""
    result = runs["edited answer"]
    assert result.results()["gate"] == "success" and rerun_results(result) == {}
    assert result.files == []
    [reply] = bodies(result.api_calls, "POST", f"/issues/{PR}/comments")
    assert (
        f"pull request #{PR}: 16 test jobs in the last 24 hours plus 1 is more than 16; try again later"
        in (reply["body"])
    )
    assert ("GET", f"/repos/{REPOSITORY}/actions/runs/900/jobs") in [(c.method, c.path) for c in result.api_calls]
    assert not any(call.path.endswith("/issues/comments") and call.method == "GET" for call in result.api_calls)


def test_re_running_all_jobs_of_a_request_is_refused_by_the_gate_with_an_answer(runs):
    """ "Re-run all jobs" runs the gate again, as attempt 2: it refuses before counting anything (a
    request's budget is counted once), and no test job runs."""
    result = runs["re-run of all jobs"]
    assert result.results()["gate"] == "success" and rerun_results(result) == {}
    assert result.files == []
    [reply] = bodies(result.api_calls, "POST", f"/issues/{PR}/comments")
    assert "(attempt 2) is refused: its budget was counted once, for its first run" in reply["body"]
    assert not any("/statuses/" in call.path for call in result.api_calls)


@pytest.fixture(scope="module")
def failed_jobs_rerun(repo, tmp_path_factory) -> ActRun:
    """ "Re-run failed jobs" of an accepted request, as GitHub runs it: the gate succeeded in attempt 1,
    so it does not run again and its outputs are reused; the rest of the workflow runs as attempt 2.
    Here the gate is a job that hands on exactly attempt 1's outputs; every other job is the rendered one."""
    body = f"/rerun-test {SMOKE}"
    request = parse_comment(body, load_setup(str(repo.path / ".github/cigen/rerun-test.json")).registry, None)
    outputs = {
        "accepted": "true",
        "head_sha": pull(repo).head_sha,
        "jobs": json.dumps(list(request.job_ids)),
        "targets": json.dumps(request.targets_by_job(), sort_keys=True),
        "reply_id": str(REPLY_ID),
    }
    work = tmp_path_factory.mktemp("failed-jobs")
    clone = repo.clone(work / "repo")
    workflow_path = clone.path / ".github/workflows" / WORKFLOW
    workflow = yaml.safe_load(workflow_path.read_text())
    workflow["jobs"]["gate"] = {
        "runs-on": "ubuntu-latest",
        "outputs": outputs,
        "steps": [{"run": "echo attempt 1 accepted this request"}],
    }
    workflow["on"] = workflow.pop(True)
    workflow_path.write_text(yaml.safe_dump(workflow, sort_keys=False))  # not committed: act reads the file
    with serve_rerun(
        pull(repo), {"alice": "write"}, records=work / "act/records.jsonl", targets=list(request.targets)
    ) as api:
        return run_workflow(
            clone.path,
            WORKFLOW,
            "issue_comment",
            issue_comment_event(PR, body, "alice", "MEMBER", created_at=CREATED),
            labels=workflow_labels(workflow_path),
            work=work / "act",
            api=api,
            env={"GITHUB_RUN_ATTEMPT": "2"},
            bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
            timeout=RUN_SECONDS_LIMIT,
        )


def test_re_running_the_failed_jobs_of_a_request_runs_no_test_and_is_refused_with_an_answer(failed_jobs_rerun, repo):
    """Finding: the Actions "Re-run failed jobs" button reused the gate's outputs and skipped the budget
    check. The test jobs run in attempt 1 only, and the report of attempt 2 answers that it is refused."""
    result = failed_jobs_rerun
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results()["report"] == "success" and rerun_results(result) == {}
    assert result.files == []
    [reply] = bodies(result.api_calls, "POST", f"/issues/{PR}/comments")
    assert "(attempt 2) is refused: its budget was counted once, for its first run" in reply["body"]
    context = f"rerun-test {SMOKE} (base-a-test-1-gpu-small on 1-gpu-5090)"
    statuses = bodies(result.api_calls, "POST", f"/statuses/{pull(repo).head_sha}")
    assert [(s["context"], s["state"]) for s in statuses] == [(context, "error")]


@pytest.mark.parametrize("name", HOSTILE_IN_ACT)
def test_a_hostile_comment_is_refused_with_its_reason_and_runs_nothing(runs, root, name):
    result = runs[name]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results()["gate"] == "success" and rerun_results(result) == {} and result.files == []
    assert bodies(result.api_calls, "POST", "/reactions") == [{"content": "confused"}]
    [reply] = bodies(result.api_calls, "POST", f"/issues/{PR}/comments")
    reason = HOSTILE[name]["reason"].replace("{marker}", str(marker(root, name)))
    assert f"\n{reason}\n" in reply["body"], reply["body"]
    assert not any("/statuses/" in call.path for call in result.api_calls)
    assert not marker(root, name).exists()


def test_a_stranger_is_refused_before_the_gate_starts(runs):
    """The default policy is write permission: the gate's `if:` skips anyone GitHub calls a contributor."""
    result = runs["stranger"]
    assert set(result.results().values()) == {"skipped"} and result.api_calls == [] and result.files == []


# -- no queue: nothing cancels a request, and gates count in run order ---------------------------------


def deciding_then(jobs: list[dict], reads_before: int):
    """An earlier request run's jobs listing: its gate is still deciding for the first reads."""
    reads: list[int] = []

    def answer(_request) -> dict:
        reads.append(1)
        listed = [listed_job("Check the request", conclusion=None)] if len(reads) <= reads_before else jobs
        return {"total_count": len(listed), "jobs": listed}

    return answer, reads


@pytest.fixture(scope="module")
def two_at_once(repo, tmp_path_factory) -> tuple[ActRun, list[int]]:
    """A request whose run (4242) starts while an earlier request's run (4000) is still in its gate: the
    earlier gate decides on the later one's second look and its 16 test jobs are listed."""
    work = tmp_path_factory.mktemp("two-at-once")
    spent_run, spent_jobs = earlier_request(4000, 16)
    spent_run = {**spent_run, "status": "in_progress", "conclusion": None}
    answer, reads = deciding_then([listed_job("Check the request"), *spent_jobs], reads_before=1)
    body = f"/rerun-test {SMOKE}"
    with serve_rerun(
        pull(repo), {"alice": "write"}, records=work / "act/records.jsonl", targets=[], runs=[spent_run]
    ) as api:
        api.on("GET", f"/repos/{REPOSITORY}/actions/runs/4000/jobs", answer)
        result = run_workflow(
            repo.path,
            WORKFLOW,
            "issue_comment",
            issue_comment_event(PR, body, "alice", "MEMBER", created_at=CREATED),
            labels=workflow_labels(repo.path / ".github/workflows" / WORKFLOW),
            work=work / "act",
            api=api,
            env={"GITHUB_RUN_ID": "4242"},
            bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
            timeout=RUN_SECONDS_LIMIT,
        )
    return result, reads


def test_two_requests_at_once_the_later_gate_waits_for_the_earlier_and_counts_it(two_at_once):
    """Requests do not share a concurrency group (GitHub keeps one pending run per group, so a drive-by
    comment or a third request would cancel a waiting one). The budgets still hold: the later
    gate waits until the earlier request's gate has decided, then counts its 16 test jobs."""
    result, reads = two_at_once
    assert result.errors == [] and result.leftovers == [], result.text
    assert len(reads) == 2  # deciding at the first look; decided at the second, 10 s later
    assert result.results()["gate"] == "success" and rerun_results(result) == {}
    [reply] = bodies(result.api_calls, "POST", f"/issues/{PR}/comments")
    assert (
        f"pull request #{PR}: 16 test jobs in the last 24 hours plus 1 is more than 16; try again later"
        in (reply["body"])
    )


def test_no_comment_can_cancel_a_request(repo, runs):
    """One concurrency group per comment, so no run (a plain comment's, an outsider's, another request's)
    can cancel or replace a waiting request; a plain comment's run skips every job."""
    workflow = yaml.safe_load((repo.path / ".github/workflows" / WORKFLOW).read_text())
    group = "rerun-test-${{ github.event.issue.number }}-${{ github.event.comment.id }}"
    assert workflow["concurrency"] == {"group": group, "cancel-in-progress": False}
    assert not any("concurrency" in job for job in workflow["jobs"].values())
    for name in ("plain comment", "stranger"):
        assert set(runs[name].results().values()) == {"skipped"} and runs[name].api_calls == [], name

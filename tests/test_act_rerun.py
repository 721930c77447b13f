"""/rerun-test in act: the rendered rerun-test workflow of the sglang-shaped fixture, end to end
(issue 12, scenario 7).

The gate and report jobs install cigen as users' workflows do, `pip install --require-hashes -r
.github/cigen/requirements.txt` (workflows.cigen_requirements), here from a wheelhouse built once
for this module (tests/act/wheelhouse.py) with no index reachable by pip. The GitHub API is the
fake of tests/act/github_api.py: the commenter's permission, the pull request, its push log,
reactions, comments, statuses, and the run's jobs as the recording files report them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from tests.act.concurrent import Runs, run_concurrently
from tests.act.fixture import REPO_ROOT, FixtureRepo, fake_gpu_bin, issue_comment_event
from tests.act.github_api import REPLY_ID, PullState, bodies, bot_answer, serve_github
from tests.act.harness import ActRun, run_workflow, workflow_labels
from tests.act.sglang_repo import CONFIG, make_sglang_repo, recording_file
from tests.act.wheelhouse import build_wheelhouse, hashed_requirements, offline_pip_env
from tests.rerun_support import FakeGitHub

WORKFLOW = "cigen-rerun-test.yml"
REQUIREMENTS = ".github/cigen/requirements.txt"
SMOKE = "test/registered/core/test_smoke.py"  # base-a: the 5090 pool
MIXED = "test/registered/extra/test_mixed_chunk.py"  # extra-a: the H100 pool; fails in this fixture
GPU_JOBS = ("run-1-gpu-5090", "run-1-gpu-h100")
# The gate parses the file for the class and method a selector names (they must exist), so MIXED has them.
MIXED_CLASS = (
    "\nimport unittest\n\n\nclass TestMixedChunk(unittest.TestCase):\n    def test_mixed(self):\n        pass\n\n"
)
HOSTILE = {case["name"]: case for case in yaml.safe_load((REPO_ROOT / "tests/cases/rerun/hostile.yml").read_text())}
# Comments GitHub never hands to the gate: the job's `if:` wants the body to start with '/rerun-test '
# (compared ignoring case, on GitHub and in act alike). Cheap: act skips the gate at once.
NOT_A_COMMAND = (
    "no slash",
    "plural",
    "underscore",
    "command on the second line",
    "no selector",
    "words before",
    "quoted reply",
    "Cyrillic ie in command",
    "byte order mark first",
    "command glued to ;",
    "command glued to $()",
)
# Comments the gate reads and refuses, one or two of every category of the table. Each costs a venv
# and a pip install (~10 s on 2 cores), which is why there are not more of them.
REFUSED = (
    "$() as selector",
    "$() in test name",
    "bare CR inside the line",
    "zero-width space",
    "leading ..",
    "pytest-style ::Class::method",
    "no such file",
    "the same selector twice",
    "branch name",
)
# GitHub's startsWith ignores case (in act too): '/RERUN-TEST' starts the gate, whose exact,
# case-sensitive check ignores it before any API call: no reaction, no reply.
IGNORED_BY_GATE = ("upper case",)
# Over a budget (generator/rerun/budget.py, the policy's defaults): the gate refuses with the reason.
CORE = "test/registered/core"
OVER_BUDGET = {
    "over the comment's budget": (
        f"/rerun-test {CORE}/test_import.py {SMOKE} {CORE}/test_batch.py "
        f"{CORE}/test_generate.py {CORE}/test_sampling.py",
        (),
        "5 test jobs (5 selectors on their pools); at most 4 per comment",
    ),
    "over the pull request's daily budget": (
        f"/rerun-test {SMOKE}",
        (bot_answer(7, 12, 100, "2026-07-20T08:00:00Z"), bot_answer(7, 4, 30, "2026-07-19T12:00:00Z")),
        "pull request #7: 16 test jobs in the last 24 hours plus 1 is more than 16; try again later",
    ),
}
RUN_SECONDS_LIMIT = 120


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="module")
def repo(tmp_path_factory, wheels) -> FixtureRepo:
    """The fixture with cigen pinned by a hash-checked requirements file, and a pull request (#7)
    whose head is checked out by the test jobs; main stays checked out (an issue comment's SHA)."""
    config = CONFIG + f"  cigen_requirements: {REQUIREMENTS}\n"
    mixed = recording_file(MIXED, "fail").replace("\nif __name__", MIXED_CLASS + "\nif __name__")
    files = {"cigen.yml": config, REQUIREMENTS: hashed_requirements(wheels), MIXED: mixed}
    repo = make_sglang_repo(tmp_path_factory.mktemp("rerun") / "repo", files)
    repo.pull_request({"python/sglang/srt/server.py": "# a fix to test\n"}, number=7)
    repo.checkout()
    return repo


def pull(repo: FixtureRepo) -> PullState:
    git = repo.path / ".git"
    head = (git / "refs/pull/7/head").read_text().strip()
    return PullState(7, head, repo.head, "feature")


def act(
    repo: FixtureRepo,
    wheels: Path,
    work: Path,
    body: str,
    login: str = "alice",
    association: str = "MEMBER",
    earlier: tuple[dict, ...] = (),
) -> tuple[ActRun, list]:
    """One comment on #7 by `login` (a writer: alice) through the rerun-test workflow, after the
    `earlier` answers of the gate; the run and its API calls."""
    labels = workflow_labels(repo.path / ".github/workflows" / WORKFLOW)
    with FakeGitHub() as api:
        serve_github(api, pull(repo), {"alice": "write"}, records=work / "act" / "records.jsonl", earlier=earlier)
        result = run_workflow(
            repo.path,
            WORKFLOW,
            "issue_comment",
            issue_comment_event(7, body, login, association),
            labels=labels,
            work=work / "act",
            api=api,
            env=offline_pip_env(wheels),
            bin_dirs=[fake_gpu_bin(work / "gpu-bin")],
            timeout=RUN_SECONDS_LIMIT,
        )
    return result, result.api_calls


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Where the runs work, and the folder of the files hostile comments try to create."""
    folder = tmp_path_factory.mktemp("rerun-runs")
    (folder / "markers").mkdir()
    return folder


@pytest.fixture(scope="module")
def runs(repo, wheels, root) -> Runs:
    comments = {
        "writer": (f"/rerun-test {SMOKE} {MIXED}::TestMixedChunk.test_mixed", "alice", "MEMBER"),
        "stranger": (f"/rerun-test {SMOKE}", "mallory", "CONTRIBUTOR"),
    }
    for name in (*NOT_A_COMMAND, *IGNORED_BY_GATE, *REFUSED):
        comments[name] = (HOSTILE[name]["comment"].replace("{marker}", str(marker(root, name))), "alice", "MEMBER")
    for name, (body, _earlier, _reason) in OVER_BUDGET.items():
        comments[name] = (body, "alice", "MEMBER")

    def runner(name: str):
        body, login, association = comments[name]
        earlier = OVER_BUDGET[name][1] if name in OVER_BUDGET else ()
        return lambda: act(repo, wheels, root / slug(name), body, login, association, earlier)[0]

    return run_concurrently({name: runner(name) for name in comments})


def slug(name: str) -> str:
    """A folder name for a scenario, unique per name ('glued to ;' and 'glued to $()' differ only in punctuation)."""
    readable = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def marker(root: Path, name: str) -> Path:
    """The file a hostile comment tries to create (its folder exists, so a `touch` would succeed)."""
    return root / "markers" / slug(name)


def gpu_results(result: ActRun) -> dict[str, str]:
    return {job: result.result(job) for job in GPU_JOBS}


def test_a_writer_reruns_exactly_the_named_files_on_their_pools_and_gets_the_results(runs, repo):
    result = runs["writer"]
    assert result.errors == [] and result.leftovers == [], result.text
    assert result.results() == {
        "gate": "success",
        "run-1-gpu-5090": "success",
        "run-1-gpu-h100": "failure",
        "report": "success",
    }
    ran = sorted((run.file, run.job, tuple(run.data["argv"][1:])) for run in result.files)
    assert ran == [(SMOKE, "run-1-gpu-5090", ()), (MIXED, "run-1-gpu-h100", ("TestMixedChunk.test_mixed",))]
    head = pull(repo).head_sha
    checkouts = {call.job: call.data["commit"] for call in result.actions if call.action == "actions/checkout"}
    assert checkouts == {"gate": repo.head, "run-1-gpu-5090": head, "run-1-gpu-h100": head, "report": repo.head}
    calls = result.api_calls
    assert bodies(calls, "POST", "/reactions") == [{"content": "rocket"}, {"content": "-1"}]
    smoke, mixed = f"rerun-test {SMOKE} (1-gpu-5090)", f"rerun-test {MIXED}::TestMixedChunk.test_mixed (1-gpu-h100)"
    statuses = [(body["context"], body["state"]) for body in bodies(calls, "POST", f"/statuses/{head}")]
    assert statuses == [(smoke, "pending"), (mixed, "pending"), (smoke, "success"), (mixed, "failure")]
    [answer] = bodies(calls, "PATCH", f"/issues/comments/{REPLY_ID}")
    lines = answer["body"].splitlines()
    assert lines[1].startswith(f"/rerun-test by @alice at `{head[:12]}`: 1/2 passed")
    jobs = "https://github.com/octo/fixture/actions/runs/1/job"
    assert lines[-2:] == [
        f"| `{SMOKE}` | `1-gpu-5090` | ✅ [passed]({jobs}/run-1-gpu-5090) | 1m 05s |",
        f"| `{MIXED}::TestMixedChunk.test_mixed` | `1-gpu-h100` | ❌ [failed]({jobs}/run-1-gpu-h100) | 1m 05s |",
    ]


def test_a_stranger_is_refused_with_a_reply_and_no_gpu_job_runs(runs):
    result = runs["stranger"]
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "report": "skipped"}
    assert result.files == []
    assert [(call.method, call.path) for call in result.api_calls] == [
        ("GET", "/repos/octo/fixture/collaborators/mallory/permission"),
        ("POST", "/repos/octo/fixture/issues/comments/101/reactions"),
        ("POST", "/repos/octo/fixture/issues/7/comments"),
    ]
    assert bodies(result.api_calls, "POST", "/reactions") == [{"content": "-1"}]
    [reply] = bodies(result.api_calls, "POST", "/issues/7/comments")
    assert reply["body"].endswith(
        "@mallory: /rerun-test is limited to people with write permission or above on "
        "this repository. Ask a maintainer to run it."
    )


@pytest.mark.parametrize("name", NOT_A_COMMAND)
def test_a_comment_that_is_not_the_command_never_starts_the_gate(runs, name):
    """The test jobs read the gate's outputs only after its result: act aborted the whole run here
    before (difference 9); GitHub skips them without evaluating their matrices."""
    result = runs[name]
    assert result.results() == {"gate": "skipped", **dict.fromkeys(GPU_JOBS, "skipped"), "report": "skipped"}
    assert result.files == [] and result.api_calls == []


@pytest.mark.parametrize("name", IGNORED_BY_GATE)
def test_a_command_in_the_wrong_case_starts_the_gate_which_ignores_it_silently(runs, root, name):
    result = runs[name]
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "report": "skipped"}
    assert result.files == [] and result.api_calls == []
    assert any("does not start with /rerun-test (case-sensitive)" in line for line in result.job("gate").lines)
    assert not marker(root, name).exists()


@pytest.mark.parametrize("name", REFUSED)
def test_a_hostile_comment_is_refused_with_its_reason_and_runs_nothing(runs, root, name):
    case = HOSTILE[name]
    result = runs[name]
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "report": "skipped"}
    assert result.files == [] and result.leftovers == []
    assert bodies(result.api_calls, "POST", "/reactions") == [{"content": "confused"}]
    [reply] = bodies(result.api_calls, "POST", "/issues/7/comments")
    reason = case["reason"].replace("{marker}", str(marker(root, name)))
    assert f"\n{reason}\n" in reply["body"], reply["body"]
    assert not any(call.method == "POST" and "/statuses/" in call.path for call in result.api_calls)
    assert not marker(root, name).exists()


@pytest.mark.parametrize("name", OVER_BUDGET)
def test_a_request_over_a_budget_is_refused_with_its_reason_and_runs_no_gpu_job(runs, name):
    """Issue 15: the budget holds in the real workflow, per comment and per pull request per day
    (counted from the gate's own earlier answers, served by the fake API)."""
    result = runs[name]
    assert result.results() == {"gate": "success", **dict.fromkeys(GPU_JOBS, "skipped"), "report": "skipped"}
    assert result.files == [] and result.leftovers == []
    assert bodies(result.api_calls, "POST", "/reactions") == [{"content": "confused"}]
    [reply] = bodies(result.api_calls, "POST", "/issues/7/comments")
    assert f"\n{OVER_BUDGET[name][2]}\n" in reply["body"], reply["body"]
    assert not any(call.method == "POST" and "/statuses/" in call.path for call in result.api_calls)

"""The rendered rerun-test workflow: validators, least privilege, no shell for the selector, and
the same jobs as CI (every suite and pool of the sglang template, field by field)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from generator.config import load_config, parse_config
from generator.names import RERUN_TEST_STEP, rerun_job_id, shard_job_ids
from generator.pipeline import build, read_inputs
from generator.render.outputs import OUTPUTS, render_outputs
from generator.render.shipping import closure, copy_text
from generator.rerun.parse import Target, parse_comment, registry_from_scan
from generator.shipped.rerun_select import job_name
from generator.tree import scan_tree
from tests.act.fixture import fake_gpu_bin
from tests.support.files import write_files
from tests.support.rendering import build_without_tree, pinned_default_config

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
GOLDEN = REPO / "tests/golden/rerun-test.yml"
FULL_SHA = re.compile(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$")


RERUN_OUTPUTS = [output for output in OUTPUTS if output.name == "rerun-test"]


def render_rerun_workflow(config) -> str:
    """The rerun workflow exactly as `cigen render` writes it (it does not depend on the plan or the
    model tests, so an empty tree will do), with no cigen_package: nothing is installed."""
    assert config.workflows.cigen_package is None and config.workflows.cigen_requirements is None
    (text,) = render_outputs(build_without_tree(replace(config, model_tests={})), RERUN_OUTPUTS).values()
    return text


@pytest.fixture(scope="module")
def config():
    return load_config(None, Path("/nonexistent-root"))


@pytest.fixture(scope="module")
def text(config) -> str:
    return render_rerun_workflow(config)


@pytest.fixture(scope="module")
def workflow(text) -> dict:
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, text, config) -> Path:
    """A repository holding the workflow and an actionlint config declaring the pools' labels."""
    root = tmp_path_factory.mktemp("rerun-workflow")
    (root / ".github/workflows").mkdir(parents=True)
    (root / ".github/workflows/rerun-test.yml").write_text(text)
    labels = sorted({label for pool in config.pools.values() for label in pool.labels})
    (root / "actionlint.yaml").write_text(yaml.safe_dump({"self-hosted-runner": {"labels": labels}}))
    return root


def run_tool(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_output_matches_the_golden_file(text, update_golden):
    if update_golden:
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "regenerate: pytest tests/test_rerun_workflow.py --update-golden"


def test_starts_with_the_generated_header_and_is_deterministic(text, config):
    assert text.splitlines()[:2] == [
        "# @generated from templates/rerun-test.yml.j2. DO NOT EDIT.",
        "# Regenerate: cigen render",  # the embedded default's command; this repo's says make regen-workflows
    ]
    assert render_rerun_workflow(config) == text


def test_the_validators_see_this_workflow(config, text, tmp_path):
    """tests/test_validators.py runs actionlint, zizmor (auditor) and check-jsonschema over sglang's
    render with cigen pinned; its rerun workflow is this one, so they are not run twice over it."""
    pinned = load_config(pinned_default_config(tmp_path), tmp_path)
    (rendered,) = render_outputs(build_without_tree(replace(pinned, model_tests={})), RERUN_OUTPUTS).values()
    assert rendered == text  # cigen_package (set there) changes nothing here: the workflow installs nothing


@pytest.mark.validators
def test_actionlint_checks_the_runner_labels(checkout):
    """Without the pools' labels declared, actionlint rejects them: the check above is real."""
    done = run_tool("actionlint", "-no-color", ".github/workflows/rerun-test.yml", cwd=checkout)
    assert done.returncode == 1
    unknown = re.findall(r"label \"[\w-]+\" is unknown", done.stdout)
    assert len(unknown) == len(rerun_jobs(load_config(None, checkout)))


@pytest.mark.validators
def test_the_one_zizmor_suppression_is_dangerous_triggers_on_issue_comment(checkout, text):
    """Ignoring no suppression, zizmor reports exactly one finding: the trigger it flags always."""
    done = run_tool(
        "zizmor",
        "--offline",
        "--persona",
        "auditor",
        "--no-ignores",
        "--format",
        "json",
        ".github/workflows/rerun-test.yml",
        cwd=checkout,
    )
    findings = json.loads(done.stdout)
    assert [f["ident"] for f in findings] == ["dangerous-triggers"]
    where = findings[0]["locations"][0]
    assert where["symbolic"]["route"]["route"] == [{"Key": "on"}]
    assert where["concrete"]["feature"].splitlines()[-2:] == [
        "  issue_comment:  # zizmor: ignore[dangerous-triggers]",
        "    types: [created]",
    ]
    assert text.count("zizmor: ignore") == 1


WRITERS = '["COLLABORATOR", "MEMBER", "OWNER"]'


def test_triggered_only_by_new_comments_with_no_default_permissions(workflow):
    assert workflow[True] == {"issue_comment": {"types": ["created"]}}  # yaml reads `on` as True
    assert workflow["permissions"] == {}
    # Only commenters the default policy may allow (writers) start the gate at all.
    assert workflow["jobs"]["gate"]["if"] == (
        f"github.event.issue.pull_request && contains(fromJSON('{WRITERS}'), "
        "github.event.comment.author_association) && startsWith(github.event.comment.body, '/rerun-test ')"
    )


def test_no_comment_can_cancel_a_request_each_has_its_own_concurrency_group(workflow):
    """Finding: every comment of a pull request shared one group, and GitHub keeps one pending run per
    group, so a drive-by comment cancelled a queued request (and a third request would replace a second).
    One group per comment: runs never cancel each other; each gate waits for earlier gates instead
    (tests/test_rerun_api.py::test_two_requests_at_once_are_counted_in_run_order_the_later_gate_waits)."""
    assert workflow["concurrency"] == {
        "group": "rerun-test-${{ github.event.issue.number }}-${{ github.event.comment.id }}",
        "cancel-in-progress": False,
    }
    assert all("concurrency" not in job for job in workflow["jobs"].values())
    # The run name the budgets count requests by: set only for a command the gate's `if:` lets in.
    assert workflow["run-name"] == (
        "${{ startsWith(github.event.comment.body, '/rerun-test ') "
        f"&& contains(fromJSON('{WRITERS}'), github.event.comment.author_association) "
        "&& format('/rerun-test on #{0}', github.event.issue.number) "
        "|| format('comment on #{0}', github.event.issue.number) }}"
    )


def test_a_policy_that_lists_users_lets_contributors_reach_the_gate(tmp_path):
    root = write_files(tmp_path, {".github/rerun-test-policy.yml": "version: 1\nusers: [{login: bob, id: 9}]\n"})
    config = load_config(None, root)
    built = build_without_tree(replace(config, model_tests={}))
    built = replace(built, inputs=replace(built.inputs, root=root))
    (text,) = render_outputs(built, RERUN_OUTPUTS).values()
    assert """["COLLABORATOR", "CONTRIBUTOR", "MEMBER", "OWNER"]""" in yaml.safe_load(text)["jobs"]["gate"]["if"]


def rerun_jobs(config) -> list[tuple[str, str]]:
    """(suite, pool) of every /rerun-test job: each pool of each enabled suite of a planned backend."""
    return [(s.name, p) for s in config.suites.values() if s.enabled and s.backend in config.backends for p in s.pools]


def test_each_job_gets_only_the_permissions_it_needs(workflow, config):
    jobs = workflow["jobs"]
    assert jobs["gate"]["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    assert jobs["report"]["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
        "statuses": "write",
    }
    assert set(jobs) == {"gate", "report"} | {rerun_job_id(suite, pool) for suite, pool in rerun_jobs(config)}
    for suite, pool in rerun_jobs(config):
        assert jobs[rerun_job_id(suite, pool)]["permissions"] == {"contents": "read"}


def test_nothing_of_cigen_is_installed_the_gate_and_report_run_the_shipped_copy(workflow, text):
    assert "pip" not in text and "cigen_package" not in text
    gate, report = workflow["jobs"]["gate"]["steps"], workflow["jobs"]["report"]["steps"]
    assert gate[-1]["run"] == "python3 .github/cigen/rerun_gate.py gate --registry .github/cigen/rerun-test.json"
    assert report[-1]["run"] == "python3 .github/cigen/rerun_gate.py report"
    assert [step["name"] for step in gate] == ["Check out the default branch", gate[-1]["name"]]


def test_test_jobs_run_the_pinned_commit_without_secrets_or_credentials(workflow, config, text):
    for suite, pool in rerun_jobs(config):
        job = workflow["jobs"][rerun_job_id(suite, pool)]
        checkout = job["steps"][0]
        assert checkout["with"] == {"ref": "${{ needs.gate.outputs.head_sha }}", "persist-credentials": False}
        assert "secrets" not in json.dumps(job) and "github.token" not in json.dumps(job)
        assert job["runs-on"] == list(config.pools[pool].labels)
        assert job["needs"] == ["gate"]
        assert job["name"] == "${{ matrix.target.job_name }}"
        assert "github.run_attempt == '1'" in job["if"]  # a re-run of failed jobs runs no test
        assert [step["name"] for step in job["steps"]].count(RERUN_TEST_STEP) == 1
    assert re.search(r"\$\{\{[^}]*secrets", text) is None  # no job reads any secret


def test_job_names_are_what_the_report_looks_for():
    """The template names each test job by the target's own job_name, which the report looks up
    and the budget reads the estimate from."""
    target = Target("t/test_a.py::A.b", "rerun-s-on-p", "s", "p", ("t/test_a.py",), "A.b", 90.0, 2)
    assert target.to_json()["job_name"] == target.job_name == job_name("t/test_a.py::A.b", "s", "p", 3)


def test_disabled_suites_get_no_job(workflow, config):
    labels = {tuple(job["runs-on"]) for name, job in workflow["jobs"].items() if name.startswith("rerun-")}
    assert ("4-gpu-gb300",) not in labels  # only disabled suites use it
    assert workflow["jobs"]["report"]["needs"] == ["gate"] + [rerun_job_id(s, p) for s, p in rerun_jobs(config)]


def test_untrusted_values_reach_shells_only_through_env(workflow, text):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["name"]
    body_uses = [line.strip() for line in text.splitlines() if "github.event.comment.body" in line]
    assert body_uses == [
        "${{ startsWith(github.event.comment.body, '/rerun-test ')",  # run-name
        "&& startsWith(github.event.comment.body, '/rerun-test ')",  # the gate job's `if:` pre-filter
        "COMMENT_BODY: ${{ github.event.comment.body }}",
    ]


def test_actions_are_pinned_by_commit_and_never_keep_credentials(workflow, text):
    uses_lines = [line.strip() for line in text.splitlines() if line.strip().startswith("uses:")]
    assert uses_lines and all(FULL_SHA.match(line) for line in uses_lines), uses_lines
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
                if name in ("gate", "report"):
                    assert "ref" not in step["with"]  # trusted jobs check out the default branch only


# -- the same job as CI ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def sglang_workflows(synth_tree) -> dict[str, dict]:
    """The sglang template's per-commit, nightly and rerun-test workflows, rendered from the real tree."""
    built = build(read_inputs(synth_tree.root, None, False))
    rendered = render_outputs(built)
    return {
        name: yaml.safe_load(rendered[f"workflows/cigen-{name}.yml"])
        for name in ("per-commit", "nightly", "rerun-test")
    }


def runner_options(run: str) -> list[str]:
    """The runner's command of a run step as words, without the ones saying which files run, and
    without `--keep-going-on schedule`: a /rerun-test job runs on a comment, never on a schedule."""
    command = run[run.index("python3 .github/cigen/run_shard.py") :].replace(" \\\n", " ")
    words = shlex.split(command)
    options = []
    while words:
        word = words.pop(0)
        if word in ("--plan", "--suite", "--shard", "--files-json", "--keep-going-on"):
            words.pop(0)
        elif word != "$@":
            options.append(word)
    return options


def default_labels(runs_on):
    """A nightly job's labels when no dispatch moves it (its runs-on picks an override otherwise)."""
    if isinstance(runs_on, list):
        return runs_on
    return json.loads(re.search(r"fromJSON\('(\[[^']*\])'\) \}\}$", runs_on).group(1))


# Where a rerun job may differ from its CI job, and why; every other field must be equal.
DIFFERENT_BY_DESIGN = {
    "name": "named after the request's target (the report and the budget read it)",
    "if": "runs when the gate accepted a target of this job, on the run's first attempt only",
    "needs": "waits for the gate only: one requested test has no stage order",
    "strategy": "a matrix of the request's targets instead of the plan's shards",
    "environment": "no secrets environment: the pull request's code runs, as on pull requests",
}


RESULTS_STEP = "Upload the shard's results"  # what the timings loop reads: trusted runs only, never a rerun


def failure_upload_per_target(step: dict) -> dict:
    """CI's upload-on-failure step as a rerun job has it: one artifact per matrix entry (there is no shard)."""
    if step["name"] != "Upload on failure":
        return step
    name = step["with"]["name"].replace("${{ matrix.shard }}", "${{ strategy.job-index }}")
    return {**step, "with": {**step["with"], "name": name}}


def runner_step_index(steps: list[dict]) -> int:
    [index] = [i for i, step in enumerate(steps) if "python3 .github/cigen/run_shard.py run" in step.get("run", "")]
    return index


def test_every_rerun_job_is_its_suites_ci_job_on_that_pool_field_by_field(sglang_workflows):
    """Finding: rerun jobs got no pool env, the default install instead of deepep's, ran from the root
    instead of `test/` and skipped `-f`. Each rerun job is now built by CI's own builder: every field of
    the per-commit or nightly job of its suite on that pool is equal, except those DIFFERENT_BY_DESIGN,
    secrets (blank, as for pull requests), which files run, and the results upload."""
    ci_jobs = {**sglang_workflows["per-commit"]["jobs"], **sglang_workflows["nightly"]["jobs"]}
    rerun = sglang_workflows["rerun-test"]["jobs"]
    config = load_config(None, Path("/nonexistent-root"))
    compared = []
    for suite, pool in rerun_jobs(config):
        ci_id = shard_job_ids(suite, config.suites[suite].pools)[config.suites[suite].pools.index(pool)]
        if ci_id not in ci_jobs:
            continue  # no file of the real tree is planned in this suite: CI renders no job to compare with
        ci, mine = ci_jobs[ci_id], rerun[rerun_job_id(suite, pool)]
        for key in sorted((set(ci) | set(mine)) - set(DIFFERENT_BY_DESIGN) - {"runs-on", "env", "steps"}):
            assert ci.get(key) == mine.get(key), (suite, pool, key)
        assert "environment" not in mine
        assert default_labels(ci["runs-on"]) == mine["runs-on"], suite
        secrets = {k for k, v in ci.get("env", {}).items() if "secrets." in v}
        builds = {k for k, v in ci.get("env", {}).items() if "outputs.builds" in v}  # per-commit builds' switches
        assert {k: v for k, v in ci.get("env", {}).items() if k not in secrets | builds} == {
            k: v for k, v in mine.get("env", {}).items() if k not in secrets | builds
        }, (suite, pool)
        assert all(mine["env"][k] == "" for k in secrets) and all(mine["env"][k] == "false" for k in builds)
        ci_at, my_at = runner_step_index(ci["steps"]), runner_step_index(mine["steps"])
        ci_checkout, my_checkout = ci["steps"][0], mine["steps"][0]
        assert ci_checkout["uses"] == my_checkout["uses"]
        assert my_checkout["with"] == {**ci_checkout["with"], "ref": "${{ needs.gate.outputs.head_sha }}"}
        before = [step for step in ci["steps"][1:ci_at] if "download-artifact" not in step.get("uses", "")]
        assert mine["steps"][1:my_at] == before, (suite, pool)  # set-up and hooks as CI's, no build download
        after = [failure_upload_per_target(step) for step in ci["steps"][ci_at + 1 :] if step["name"] != RESULTS_STEP]
        assert mine["steps"][my_at + 1 :] == after, (suite, pool)  # CI's later hooks; results are not uploaded
        ci_run, my_run = ci["steps"][ci_at], mine["steps"][my_at]
        assert ci_run["timeout-minutes"] == my_run["timeout-minutes"]
        assert runner_options(ci_run["run"]) == runner_options(my_run["run"]), (suite, pool)
        compared.append((suite, pool))
    assert len(compared) >= 30, compared
    deepep = rerun[rerun_job_id("base-c-test-deepep-4-gpu-h100", "4-gpu-h100")]
    assert deepep["steps"][1]["run"] == "bash scripts/ci/cuda/ci_install_deepep.sh\n"
    small = rerun[rerun_job_id("base-b-test-1-gpu-small", "1-gpu-5090")]
    assert small["env"]["SGLANG_IS_IN_CI"] == "true"
    command = small["steps"][runner_step_index(small["steps"])]["run"]
    assert "--workdir test" in command and "--test-arg=-f" in command


# -- the run step, on a CPU ------------------------------------------------------------------

TINY_TEST = """\
import os
import sys
import unittest


def register_cuda_ci(**kwargs):
    pass


register_cuda_ci(est_time=5, suite="nightly-1-gpu", nightly=True)


class TestTiny(unittest.TestCase):
    def test_ok(self):
        print("cwd", os.path.basename(os.getcwd()), "argv", sys.argv[1:], flush=True)

    def test_broken(self):
        self.fail("broken on purpose")


if __name__ == "__main__":
    unittest.main()
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A repository with one registered test, the shipped runner, and a fake nvidia-smi."""
    root = write_files(tmp_path_factory.mktemp("tiny"), {"test/registered/tiny/test_tiny.py": TINY_TEST})
    for module in closure({"run_shard"}):
        write_files(root, {f".github/cigen/{module}.py": copy_text(module, "make regen-workflows")})
    return root, fake_gpu_bin(root.parent / "gpu-bin")


def run_step(workflow: dict, job_id: str, root: Path, gpu_bin: Path, env: dict) -> subprocess.CompletedProcess:
    steps = workflow["jobs"][job_id]["steps"]
    step = steps[runner_step_index(steps)]
    environment = {**os.environ, "PATH": f"{gpu_bin}:{os.environ['PATH']}", "RUNNER_TEMP": str(root.parent), **env}
    environment.pop("GITHUB_STEP_SUMMARY", None)
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=root, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("selector, exit_code", [("TestTiny.test_ok", 0), ("TestTiny.test_broken", 1), ("TestTiny", 1)])
def test_parsed_request_through_the_run_step_runs_exactly_the_named_test_as_ci_would(
    workflow, tiny, selector, exit_code
):
    """End to end on a CPU: comment -> parse -> the matrix target -> the workflow's run step, which runs the
    shipped runner with the suite's options: from `test/`, with `-f`, the test name an argument."""
    root, gpu_bin = tiny
    config = load_config(None, root)
    registry = registry_from_scan(config, scan_tree(root, config.include, config.exclude))
    request = parse_comment(f"/rerun-test registered/tiny/test_tiny.py::{selector}", registry, root)
    [target] = request.targets
    assert (target.job, target.files) == ("rerun-nightly-1-gpu-on-1-gpu-h100", ("test/registered/tiny/test_tiny.py",))
    done = run_step(
        workflow, target.job, root, gpu_bin, {"RERUN_FILES": json.dumps(list(target.files)), "RERUN_TEST": target.test}
    )
    assert done.returncode == exit_code, done.stdout + done.stderr
    # The whole class runs test_broken first and `-f` (sglang's fail-fast, as in CI) stops it there.
    assert "Ran 1 test" in done.stdout + done.stderr
    if selector == "TestTiny.test_ok":
        assert "cwd test argv ['TestTiny.test_ok', '-f']" in done.stdout


def test_the_run_step_passes_hostile_values_as_arguments_and_no_shell_reads_them(workflow, tiny, tmp_path):
    root, gpu_bin = tiny
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` ' && touch {marker} '"
    done = run_step(
        workflow,
        "rerun-nightly-1-gpu-on-1-gpu-h100",
        root,
        gpu_bin,
        {"RERUN_FILES": json.dumps([f"test/{hostile}.py"]), "RERUN_TEST": hostile},
    )
    assert done.returncode == 1 and "missing" in done.stdout, done.stdout + done.stderr
    assert not marker.exists()


def test_a_custom_config_gets_its_own_pools_and_a_setup_step(tmp_path):
    config = parse_config(
        """
version: 1
pools:
  a100: {labels: [self-hosted, a100], gpus: 1, setup_minutes: 1}
suites:
  gpu-tests: {trigger: per-commit, pools: [a100], step_timeout_minutes: 20, shard_budget_minutes: 10, \
job_timeout_minutes: 45}
""",
        "cigen.yml",
    )
    settings = replace(config.workflows, setup=("pip install -e '.[test]'",))
    workflow = yaml.safe_load(render_rerun_workflow(replace(config, workflows=settings)))
    job = workflow["jobs"]["rerun-gpu-tests-on-a100"]
    assert job["runs-on"] == ["self-hosted", "a100"]
    assert job["timeout-minutes"] == 45
    assert [s["name"] for s in job["steps"]] == ["Check out the pinned head commit", "Set up", RERUN_TEST_STEP]
    assert (job["steps"][1]["run"], job["steps"][1]["timeout-minutes"]) == ("pip install -e '.[test]'\n", 20)
    assert workflow["jobs"]["report"]["needs"] == ["gate", "rerun-gpu-tests-on-a100"]

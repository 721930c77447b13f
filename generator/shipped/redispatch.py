"""cigen's re-dispatch of infrastructure failures: re-run a GPU run's failed jobs once
when every one of them failed because of the machine, never because of the code.

Standard library only: cigen copies this file (and fleet.py) into `.github/cigen/`;
the generated `workflow_run` workflow runs it from the default branch's checkout,
never from the pull request's:

    python3 .github/cigen/redispatch.py --daily-cap 20 --ignore-job Result

It reads the completed run from the event (GITHUB_EVENT_PATH), the jobs of that attempt
and its shard results artifacts (`cigen-results-*-<attempt>`) through the REST API
(GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN), and re-runs the failed jobs
(POST .../actions/runs/{id}/rerun-failed-jobs) only when:
- the run failed, and this is its first attempt (never a second re-dispatch);
- every failed job is explained as infra: its results say the shard ended as infra
  (exit 3: the preflight's probes, or only infra failures such as a CUDA init error),
  its set-up failed (the runner's job-started health hook), or the runner was lost
  (no step failed and no results: the machine went away mid-job);
- no failed job is a test failure, a timeout, an exhausted flaky-accuracy retry, or
  anything unexplained (a job's timeout-minutes, a cancellation, unreadable results);
- fewer than --daily-cap runs of the repository were re-run today (UTC), and the run
  was not re-run meanwhile.
Then it posts one line on the pull request (runner, probe, the new attempt) unless
--no-comment, and writes the decision and the run's fleet table to the job summary.

The artifacts come from the run's jobs, which on a pull request ran its code: they are
untrusted data. They are size-bounded, parsed as JSON only, checked field by field
(fleet.parse_outcome), and only used to *withhold* or *explain* a re-run: a job counts
as failed only when the jobs API says so, and the runner named is the API's. The worst
a forged artifact can do is spend one re-run of the same jobs, within the daily cap.

Exit status: 0 decided (re-dispatched or not), 1 the API failed, 2 a usage mistake.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from generator.shipped import fleet, step_files

EXIT_DECIDED = 0
EXIT_API = 1
EXIT_USAGE = 2
MAX_ATTEMPT = 1  # only a first attempt is re-dispatched: once, never twice
RESULTS_PREFIX = "cigen-results-"
RESULTS_FILE = "cigen-results.json"
MAX_ARTIFACTS = 256
MAX_ARTIFACT_BYTES = 2 * 2**20  # one zip
MAX_RESULTS_BYTES = 2 * 2**20  # the results file inside
MAX_RESPONSE_BYTES = 8 * 2**20  # one API answer
MAX_PAGES = 5  # of 100 jobs or artifacts
MAX_RUN_PAGES = 10  # of 100 runs: a filtered runs list gives at most 1,000
API_TIMEOUT_SECONDS = 20
SETUP_STEPS = ("Set up job", "Set up runner")  # where the job-started hook runs
FAILED_JOB = ("failure", "timed_out", "cancelled", "startup_failure")
LOGIN = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
# The timings loop's rules for a results artifact (generator/timings/loop.py and
# generator/jsonpos.py; tests check they agree): what a corrupt zip raises, strict JSON.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    NotImplementedError,
    RuntimeError,  # RecursionError among them: JSON nested too deep
    EOFError,
    OSError,
    ValueError,  # negative seeks, undecodable member names, refused numbers, bad JSON
    struct.error,
    zlib.error,
)
MAX_INT_DIGITS = 100
MAX_DEPTH = 64


class UsageError(Exception):
    """A mistake in the options or the environment: one line, exit 2."""


class ApiError(Exception):
    """The GitHub API failed or answered something unexpected: exit 1."""


# --- The GitHub REST calls (urllib) ---------------------------------------------------
# Kept apart so that they can move to cigen's one shipped GitHub client once it
# exists; nothing else here touches the network.


@dataclass(frozen=True)
class Api:
    """The repository's REST API with the job's token. The token goes to `url` only."""

    url: str
    repo: str
    token: str

    def request(self, method: str, path: str, body: object = None) -> object:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url.rstrip("/") + path,
            data=data,
            method=method,
            headers=self.headers(),
        )
        try:
            with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as answer:
                raw = answer.read(MAX_RESPONSE_BYTES + 1)
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(f"{method} {path}: {error}") from None
        if len(raw) > MAX_RESPONSE_BYTES:
            raise ApiError(f"{method} {path}: answer over {MAX_RESPONSE_BYTES} bytes")
        try:
            return json.loads(raw) if raw.strip() else None
        except ValueError:
            raise ApiError(f"{method} {path}: answer is not JSON") from None

    def headers(self) -> dict:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "cigen-redispatch",
            "Content-Type": "application/json",
        }

    def get(self, path: str, **query: object) -> dict:
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        answer = self.request("GET", path + suffix)
        if not isinstance(answer, dict):
            raise ApiError(f"GET {path}: not a JSON object")
        return answer

    def pages(
        self, path: str, key: str, max_pages: int = MAX_PAGES, **query: object
    ) -> list:
        """Every entry of a paged list (at most max_pages pages of 100)."""
        entries: list = []
        for page in range(1, max_pages + 1):
            answer = self.get(path, **query, per_page=100, page=page)
            listed = answer.get(key)
            if not isinstance(listed, list):
                raise ApiError(f"GET {path}: no {key!r} list")
            entries += listed
            if len(listed) < 100:
                break
        return entries

    def download(self, artifact_id: int) -> bytes:
        """An artifact's zip, bounded. GitHub redirects to a pre-signed storage URL,
        which gets no token: redirects are followed by hand, without it."""
        path = f"/repos/{self.repo}/actions/artifacts/{artifact_id}/zip"
        opener = urllib.request.build_opener(_NoRedirect)
        request = urllib.request.Request(
            self.url.rstrip("/") + path, headers=self.headers()
        )
        try:
            try:
                with opener.open(request, timeout=API_TIMEOUT_SECONDS) as answer:
                    return _bounded(answer, path)
            except urllib.error.HTTPError as redirect:
                location = redirect.headers.get("Location")
                if redirect.code not in (301, 302, 303, 307, 308) or not location:
                    raise
                plain = urllib.request.Request(
                    location, headers={"User-Agent": "cigen"}
                )
                with urllib.request.urlopen(
                    plain, timeout=API_TIMEOUT_SECONDS
                ) as answer:
                    return _bounded(answer, path)
        except (urllib.error.URLError, OSError) as error:
            raise ApiError(f"GET {path}: {error}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[override]
        return None  # the redirect surfaces as an HTTPError, followed without the token


def _bounded(answer, path: str) -> bytes:
    data = answer.read(MAX_ARTIFACT_BYTES + 1)
    if len(data) > MAX_ARTIFACT_BYTES:
        raise ApiError(f"GET {path}: artifact over {MAX_ARTIFACT_BYTES} bytes")
    return data


# --- What the run says: its jobs and results (untrusted) ------------------------------


@dataclass(frozen=True)
class Job:
    """A job of the attempt, as the jobs API lists it."""

    name: str
    conclusion: str | None
    runner: str
    failed_steps: tuple[str, ...]
    unfinished_steps: tuple[str, ...]  # steps that never concluded (a lost runner)

    @property
    def failed(self) -> bool:
        return self.conclusion in FAILED_JOB


def parse_jobs(entries: Sequence[object]) -> list[Job]:
    jobs = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ApiError("a job of the jobs API has no name")
        steps = entry.get("steps") if isinstance(entry.get("steps"), list) else []
        steps = [
            s for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)
        ]
        runner = entry.get("runner_name")
        jobs.append(
            Job(
                name=entry["name"],
                conclusion=entry.get("conclusion"),
                runner=runner if isinstance(runner, str) and runner else "unknown",
                failed_steps=tuple(
                    s["name"] for s in steps if s.get("conclusion") == "failure"
                ),
                unfinished_steps=tuple(
                    s["name"]
                    for s in steps
                    if s.get("status") == "in_progress" or s.get("conclusion") is None
                ),
            )
        )
    return jobs


def _refuse(text: str) -> object:
    raise ValueError(f"{text[:40]} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 overflows to inf without spelling it
        raise ValueError(f"{text[:40]} is not a finite number")
    return value


def _short_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(text)


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects outside strings."""
    depth = deepest = 0
    for bracket in re.findall(r"[\[\]{}]", re.sub(r'"(?:[^"\\]|\\.)*"', "", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def strict_json(raw: bytes) -> object:
    """JSON as the timings loop reads it: UTF-8, no NaN or Infinity, no 1e400, no
    integer over MAX_INT_DIGITS digits, nesting at most MAX_DEPTH deep."""
    text = raw.decode("utf-8")
    if _depth(text) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    return json.loads(
        text,
        parse_constant=_refuse,
        parse_float=_finite_float,
        parse_int=_short_int,
    )


def results_bytes(data: bytes) -> bytes:
    """The one results file of an artifact zip, bounded by its declared and its actual
    size (a small zip must not expand into memory)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [i for i in archive.infolist() if i.filename == RESULTS_FILE]
        if len(members) != 1:
            raise fleet.ResultsError(f"{len(members)} results files")
        if members[0].file_size > MAX_RESULTS_BYTES:
            raise fleet.ResultsError("results file too large")
        with archive.open(members[0]) as handle:
            raw = handle.read(MAX_RESULTS_BYTES + 1)
    if len(raw) > MAX_RESULTS_BYTES:
        raise fleet.ResultsError("results file too large")
    return raw


def read_outcomes(
    archives: Mapping[str, bytes],
) -> tuple[list[fleet.Outcome], list[str]]:
    """Each artifact's results file, checked; problems (one line each) for the rest."""
    outcomes, problems = [], []
    for name in sorted(archives):
        try:
            data = strict_json(results_bytes(archives[name]))
            outcomes.append(fleet.parse_outcome(data, name))
        except (*ZIP_ERRORS, fleet.ResultsError) as error:
            problems.append(f"{name}: unreadable results ({type(error).__name__})")
    return outcomes, problems


# --- The decision ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """A failed job explained as the machine's."""

    job: str
    runner: str
    probe: str
    reason: str


@dataclass(frozen=True)
class Decision:
    redispatch: bool
    why: str
    faults: tuple[Fault, ...] = ()
    blockers: tuple[str, ...] = ()  # failed jobs that are not infra, one line each


def explain(job: Job, outcome: fleet.Outcome | None) -> Fault | str:
    """A failed job as a Fault (infra), or why it is not one."""
    if job.conclusion != "failure":
        return f"{job.name}: {job.conclusion} (never re-dispatched)"
    if outcome is not None:
        if outcome.infra:
            probe = outcome.probe or "infra"
            return Fault(job.name, job.runner, probe, outcome.reason)
        classes = ", ".join(sorted(set(outcome.failed_classes))) or "failed"
        return f"{job.name}: {classes} (a test's failure, never re-dispatched)"
    if any(step in SETUP_STEPS for step in job.failed_steps):
        reason = "the runner's set-up (job-started health hook) failed"
        return Fault(job.name, job.runner, "job-started-hook", reason)
    if not job.failed_steps and (job.unfinished_steps or job.runner == "unknown"):
        return Fault(
            job.name, job.runner, "lost-runner", "the runner stopped answering"
        )
    steps = ", ".join(job.failed_steps) or "no step"
    return f"{job.name}: failed without results ({steps} failed)"


def decide(
    jobs: Sequence[Job],
    outcomes: Sequence[fleet.Outcome],
    problems: Sequence[str],
    ignore: Sequence[str],
) -> Decision:
    """Re-dispatch only when every failed job is infra and nothing is unexplained."""
    by_name: dict[str, fleet.Outcome] = {}
    for outcome in outcomes:
        if outcome.job_name:
            by_name[outcome.job_name] = outcome
    failed = [job for job in jobs if job.failed and job.name not in ignore]
    if not failed:
        return Decision(False, "no failed job to re-dispatch")
    faults, blockers = [], list(problems)
    for job in failed:
        explained = explain(job, by_name.get(job.name))
        if isinstance(explained, Fault):
            faults.append(explained)
        else:
            blockers.append(explained)
    if blockers:
        why = "not every failure is the machine's: nothing re-dispatched"
        return Decision(False, why, tuple(faults), tuple(blockers))
    why = f"{len(faults)} failed job(s), all infra"
    return Decision(True, why, tuple(faults))


def pr_line(faults: Sequence[Fault], attempt: int, run_url: str) -> str:
    """The one line the pull request gets."""
    seen: dict[tuple[str, str], Fault] = {}
    for fault in faults:
        seen.setdefault((fault.runner, fault.probe), fault)
    parts = [
        f"runner `{fleet.clean_text(runner)}` failed probe `{probe}`"
        for runner, probe in sorted(seen)
    ]
    return (
        f"cigen: the GPU jobs failed on the machine, not the code ({'; '.join(parts)});"
        f" the failed jobs were re-dispatched as attempt {attempt + 1}: {run_url}"
    )


@dataclass(frozen=True)
class Run:
    """The completed run, from the workflow_run event."""

    run_id: int
    attempt: int
    conclusion: str
    pull_numbers: tuple[int, ...]
    url: str


def read_event(path: str) -> Run:
    try:
        with open(path, encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError) as error:
        raise UsageError(f"the event {path} cannot be read: {error}") from None
    run = event.get("workflow_run") if isinstance(event, dict) else None
    if not isinstance(run, dict):
        raise UsageError("not a workflow_run event")
    run_id, attempt = run.get("id"), run.get("run_attempt")
    if not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (run_id, attempt)
    ):
        raise UsageError("the event's workflow_run has no id and run_attempt")
    pulls = (
        run.get("pull_requests") if isinstance(run.get("pull_requests"), list) else []
    )
    numbers = tuple(
        p["number"]
        for p in pulls
        if isinstance(p, dict) and isinstance(p.get("number"), int)
    )
    url = run.get("html_url") if isinstance(run.get("html_url"), str) else ""
    return Run(run_id, attempt, str(run.get("conclusion")), numbers, url)


def reruns_today(api: Api, now: datetime) -> int:
    """Runs of the repository created today (UTC) that were re-run (attempt > 1), every
    page of them: a busy repository starts hundreds of runs a day."""
    day = now.strftime("%Y-%m-%d")
    path = f"/repos/{api.repo}/actions/runs"
    runs = api.pages(path, "workflow_runs", MAX_RUN_PAGES, created=f">={day}")
    return sum(
        1
        for r in runs
        if isinstance(r, dict)
        and isinstance(r.get("run_attempt"), int)
        and r["run_attempt"] > 1
    )


def results_archives(api: Api, run: Run) -> dict[str, bytes]:
    """The attempt's results artifacts: name -> zip bytes (bounded count and size)."""
    entries = api.pages(
        f"/repos/{api.repo}/actions/runs/{run.run_id}/artifacts", "artifacts"
    )
    archives = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name, ident, size = (
            entry.get("name"),
            entry.get("id"),
            entry.get("size_in_bytes"),
        )
        if not isinstance(name, str) or not name.startswith(RESULTS_PREFIX):
            continue
        if not name.endswith(f"-{run.attempt}") or entry.get("expired") is True:
            continue
        if not isinstance(ident, int) or isinstance(ident, bool):
            continue
        if len(archives) >= MAX_ARTIFACTS:
            break
        if isinstance(size, int) and size > MAX_ARTIFACT_BYTES:
            archives[name] = b""  # read as unreadable: it withholds the re-run
            continue
        archives[name] = api.download(ident)
    return archives


# --- Acting on it, and saying so ------------------------------------------------------


def summary(
    run: Run, decision: Decision, outcomes: Sequence[fleet.Outcome], line: str
) -> str:
    verdict = "re-dispatched" if decision.redispatch else "not re-dispatched"
    text = (
        f"### Run {run.run_id}, attempt {run.attempt}: {verdict}\n\n{decision.why}\n\n"
    )
    if line:
        text += f"{line}\n\n"
    if decision.faults:
        text += "| job | runner | probe | reason |\n|---|---|---|---|\n"
        text += "".join(
            f"| {fleet.clean_text(f.job)} | `{fleet.clean_text(f.runner)}` | {f.probe}"
            f" | {fleet.clean_text(f.reason) or '-'} |\n"
            for f in decision.faults
        )
        text += "\n"
    text += "".join(f"- {fleet.clean_text(b)}\n" for b in decision.blockers)
    rate = fleet.DEFAULT_MAX_INFRA_RATE
    # The run's own results files: a pull request's code wrote them (trusted runs'
    # report: the timings job's summary).
    title = "Runners of this attempt, as its results files tell it"
    return text + "\n" + fleet.report(outcomes, rate, title, mermaid=True)


def write_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


def set_output(name: str, value: str) -> None:
    """One `name=value` line in GITHUB_OUTPUT, by step_files' rule (one plain line)."""
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        step_files.write_lines(path, {name: value})


def examine(
    api: Api, run: Run, options: argparse.Namespace, now: datetime
) -> tuple[Decision, list[fleet.Outcome]]:
    """The decision, with the run's results; reads only, changes nothing."""
    if run.conclusion != "failure":
        return (
            Decision(False, f"the run's conclusion is {run.conclusion}: nothing to do"),
            [],
        )
    if run.attempt > MAX_ATTEMPT:
        why = f"attempt {run.attempt}: a run is re-dispatched once, never twice"
        return Decision(False, why), []
    base = f"/repos/{api.repo}/actions/runs/{run.run_id}"
    jobs = parse_jobs(api.pages(f"{base}/attempts/{run.attempt}/jobs", "jobs"))
    outcomes, problems = read_outcomes(results_archives(api, run))
    decision = decide(jobs, outcomes, problems, options.ignore_job)
    if not decision.redispatch:
        return decision, outcomes
    if reruns_today(api, now) >= options.daily_cap:
        why = f"the daily cap of {options.daily_cap} re-dispatched runs is reached"
        return Decision(False, why, decision.faults), outcomes
    if api.get(base).get("run_attempt") != run.attempt:
        why = "the run was re-run meanwhile: nothing re-dispatched"
        return Decision(False, why, decision.faults), outcomes
    return decision, outcomes


def redispatch(
    api: Api, run: Run, options: argparse.Namespace, now: datetime
) -> Decision:
    """Decide, then act: re-run the failed jobs, post the line; say what happened."""
    decision, outcomes = examine(api, run, options, now)
    line = ""
    if decision.redispatch:
        base = f"/repos/{api.repo}/actions/runs/{run.run_id}"
        api.request("POST", f"{base}/rerun-failed-jobs", {})
        line = pr_line(decision.faults, run.attempt, run.url or base)
        if options.comment and run.pull_numbers:
            number = run.pull_numbers[0]
            api.request(
                "POST", f"/repos/{api.repo}/issues/{number}/comments", {"body": line}
            )
        print(line, flush=True)
    else:
        print(f"not re-dispatched: {decision.why}", flush=True)
        for blocker in decision.blockers:
            print(f"  {fleet.clean_text(blocker)}", flush=True)
    write_summary(summary(run, decision, outcomes, line))
    set_output("redispatched", "true" if decision.redispatch else "false")
    return decision


# --- The command ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redispatch.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--daily-cap", type=int, default=20, help="Re-dispatched runs a day (UTC)."
    )
    parser.add_argument(
        "--ignore-job",
        action="append",
        default=[],
        help="A job name whose failure only repeats others' (the finish job).",
    )
    parser.add_argument(
        "--no-comment",
        dest="comment",
        action="store_false",
        help="Do not post on the pull request (the job summary still says it).",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    options = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if options.daily_cap < 1:
            raise UsageError("--daily-cap must be at least 1")
        env = os.environ
        missing = [
            name
            for name in ("GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN")
            if not env.get(name)
        ]
        if missing:
            raise UsageError(f"{', '.join(missing)} must be set")
        if not LOGIN.match(env["GITHUB_REPOSITORY"]):
            raise UsageError("GITHUB_REPOSITORY is not owner/name")
        api_url = env.get("GITHUB_API_URL", "https://api.github.com")
        api = Api(api_url, env["GITHUB_REPOSITORY"], env["GITHUB_TOKEN"])
        run = read_event(env["GITHUB_EVENT_PATH"])
        redispatch(api, run, options, datetime.now(timezone.utc))
        return EXIT_DECIDED
    except UsageError as error:
        print(f"redispatch.py: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except ApiError as error:
        print(
            f"redispatch.py: the GitHub API failed: {error}",
            file=sys.stderr,
            flush=True,
        )
        return EXIT_API


if __name__ == "__main__":
    sys.exit(main())

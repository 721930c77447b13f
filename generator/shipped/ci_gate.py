"""cigen's CI gate: which suites a workflow run starts, and whether the run as a whole passed.

Standard library only, Python >= 3.9: cigen copies this file verbatim into the repository it writes
CI for (`.github/cigen/ci_gate.py`); the generated workflows run it on a hosted runner:

    python3 .github/cigen/ci_gate.py decide --plan .github/cigen/plan.json   # the `gate` job
    python3 .github/cigen/ci_gate.py finish                                  # the `finish` job

`decide` reads the workflow's gates (env CIGEN_GATES, JSON written by cigen render), the event
(GITHUB_EVENT_NAME, GITHUB_EVENT_PATH) and, for a pull request, the live pull request through the
REST API (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_TOKEN): labels and draft state as they are now,
not as the event recorded them. It writes step outputs: `run` ({suite: true|false}), `shards`
({suite: [0, 1, ...]}, from the plan file, so the matrix of a suite's job follows the plan file and
the workflow YAML does not change when a test is added), `parallel` ({suite: shards at once}, the
`throttle`), `blocked` (why a gated-off pull request fails the required check, when `gated_off` is
fail; else empty), `builds` ({build: true|false}: a build runs for a suite that runs, and, when it
has `paths`, only on a pull request that changes them), `changed` ({pool: true|false}: the pull
request changed the pool's `labels_when_changed` paths), and a step summary saying why.

Rules, per commit workflow: pushes and dispatches run every suite. A pull request runs nothing when
it is a draft (`skip_drafts`), lacks the workflow's label (`label`, e.g. run-ci), or changes no file
under the workflow's `paths`; otherwise a suite with its own `label` runs when the pull request has
it, and a suite with `paths` when the change touches them (a diff that cannot be computed runs it;
a pattern starting with `!` excludes). Throttle: on its `events`, a suite runs at most
max(shards // divisor, 1) shards at once, unless the live pull request has `lift_label`.
Nightly workflow: a schedule runs the nightly suites of that cron (all of them when the workflow has
one cron); a dispatch runs `inputs.suite` (`all`: every nightly suite; manual suites only by name).

`finish` reads NEEDS (the `toJSON(needs)` of the jobs it waits for) and fails when any of them
failed or was cancelled, or when the gate said the pull request is `blocked` (sglang's pr-gate: a
draft or a pull request without run-ci cannot pass); a job skipped by its gate is fine. It is the
one check to require.

Exit status: 0 done, 1 the run failed (finish) or the live pull request could not be read (decide:
fail closed, nothing runs), 2 a usage mistake.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from generator.shipped import plan_file, step_files

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
API_TIMEOUT_SECONDS = 20
FAILED_RESULTS = ("failure", "cancelled")


class GateError(Exception):
    """Something the gate cannot decide on; it fails closed (nothing runs)."""


# --- what the gate reads: the plan file, the live pull request, the diff --------------


def read_json_file(path: str, what: str) -> object:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise GateError(f"{what} {path} cannot be read: {error}") from None


def plan_shards(plan_path: str, suites: Sequence[str]) -> dict[str, list[int]]:
    """Each suite's shard indices in the plan file (a suite the plan lacks gets none)."""
    try:
        planned = plan_file.read(plan_path).suites
    except plan_file.PlanFileError as error:
        raise GateError(str(error)) from None
    return {suite: list(range(len(planned.get(suite, ())))) for suite in suites}


def live_pull_request(number: int) -> dict:
    """GET /repos/{repo}/pulls/{number}: the pull request as it is now."""
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    token = os.environ.get("GITHUB_TOKEN", "")
    if not repo or not token:
        raise GateError(
            "GITHUB_REPOSITORY and GITHUB_TOKEN are needed to read the pull request"
        )
    request = urllib.request.Request(
        f"{api}/repos/{repo}/pulls/{number}",
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "cigen-ci-gate",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=API_TIMEOUT_SECONDS) as response:
            pull = json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise GateError(f"cannot read pull request #{number}: {error}") from None
    if (
        not isinstance(pull, dict)
        or pull.get("number") != number
        or not isinstance(pull.get("labels"), list)
    ):
        raise GateError(f"the API's answer is not pull request #{number}")
    return pull


def pull_labels(pull: Mapping) -> set[str]:
    return {
        label["name"]
        for label in pull["labels"]
        if isinstance(label, dict) and isinstance(label.get("name"), str)
    }


def git_pathspecs(patterns: Sequence[str]) -> list[str]:
    """cigen.yml's globs as git pathspecs: `!pattern` excludes what it matches from the rest."""
    return [
        (
            ":(glob,exclude)" + pattern[1:]
            if pattern.startswith("!")
            else ":(glob)" + pattern
        )
        for pattern in patterns
    ]


def touches(pathspecs: Sequence[str]) -> bool:
    """Whether the checked-out merge commit changes a file under `pathspecs` (git `:(glob)`,
    `**` as in cigen.yml, `!` excludes) against its first parent, the base branch. A diff
    that fails says yes.
    """
    specs = git_pathspecs(pathspecs)
    diff = subprocess.run(
        ["git", "diff", "--quiet", "HEAD^1", "HEAD", "--", *specs], capture_output=True
    )
    return diff.returncode != 0


# --- which suites a run starts, per event, and which builds ---------------------------


def blocked_line(pr: Mapping, draft: bool) -> str:
    """The required check's summary line for a gated-off pull request: why, and how to get CI."""
    if draft:
        step = "mark the pull request ready for review"
        starts = "ready_for_review" in pr.get("types", ())
        why = "the pull request is a draft"
    else:
        step = f"add the `{pr['label']}` label"
        starts = "labeled" in pr.get("types", ())
        why = f"the pull request lacks the label `{pr['label']}`"
    then = "that starts a new run" if starts else "then re-run this workflow"
    return f"No GPU test ran: {why}. To run CI, {step}; {then}."


def decide_pull_request(
    gates: Mapping, pull: Mapping
) -> tuple[dict[str, bool], dict[str, str], str]:
    """Per suite: runs or not on this pull request, and why; and the line that fails the
    required check when the pull request is gated off and `gated_off` is fail (else "").
    """
    suites = gates["suites"]
    pr = gates.get("pull_request") or {}
    labels = pull_labels(pull)
    stop = None
    blocked = ""
    draft = bool(pr.get("skip_drafts") and pull.get("draft") is True)
    if draft:
        stop = "the pull request is a draft"
    elif pr.get("label") and pr["label"] not in labels:
        stop = f"the pull request lacks the label {pr['label']!r}"
    elif pr.get("paths") and not touches(pr["paths"]):
        stop = "the pull request changes no file the GPU suites test"
    if stop and pr.get("gated_off") == "fail" and (draft or "label" in stop):
        blocked = blocked_line(pr, draft)
    run, why = {}, {}
    for name, suite in suites.items():
        if stop:
            run[name], why[name] = False, stop
        elif suite.get("label") and suite["label"] not in labels:
            run[name], why[name] = False, f"needs the label {suite['label']!r}"
        elif suite.get("paths") and not touches(suite["paths"]):
            run[name], why[name] = False, "its paths did not change"
        else:
            run[name], why[name] = True, "runs"
    return run, why, blocked


def parallel(
    gates: Mapping, event_name: str, labels: set[str], shards: Mapping[str, list]
) -> dict[str, int]:
    """Per suite: how many of its shards run at once (the `throttle`; else all of them)."""
    throttle = gates.get("throttle") or {}
    lifted = throttle.get("lift_label") in labels
    limited = event_name in throttle.get("events", ()) and not lifted
    divisor = throttle.get("divisor", 1)
    return {
        name: max(len(indices) // divisor, 1) if limited else max(len(indices), 1)
        for name, indices in shards.items()
    }


def decide_schedule(
    gates: Mapping, schedule: str
) -> tuple[dict[str, bool], dict[str, str]]:
    crons = gates.get("crons") or []
    run, why = {}, {}
    for name, suite in gates["suites"].items():
        own = suite.get("cron") or (crons[0] if crons else None)
        if suite.get("trigger") != "nightly":
            run[name], why[name] = False, "runs only when dispatched by name"
        elif len(crons) > 1 and own != schedule:
            run[name], why[name] = False, f"scheduled at {own!r}, not {schedule!r}"
        else:
            run[name], why[name] = True, "scheduled"
    return run, why


def decide_dispatch(
    gates: Mapping, picked: str
) -> tuple[dict[str, bool], dict[str, str]]:
    run, why = {}, {}
    for name, suite in gates["suites"].items():
        if picked == name:
            run[name], why[name] = True, "picked"
        elif picked in ("", "all") and suite.get("trigger") != "manual":
            run[name], why[name] = (
                True,
                "every suite was picked" if picked else "dispatched",
            )
        else:
            run[name], why[name] = False, f"not picked ({picked})"
    return run, why


class Decision:
    """What the gate decided: per suite whether it runs and why, the live pull request's
    labels (empty for other events), and the line that fails the required check ("" if none).
    """

    def __init__(
        self,
        run: dict[str, bool],
        why: dict[str, str],
        labels: set[str] | None = None,
        blocked: str = "",
    ) -> None:
        self.run, self.why, self.labels, self.blocked = (
            run,
            why,
            labels or set(),
            blocked,
        )


def decide_builds(
    gates: Mapping, event_name: str, run: Mapping[str, bool]
) -> dict[str, bool]:
    """Per build: whether it runs. Only for a suite that runs; with `paths`, only on a pull
    request that changes them (sglang builds sgl-kernel for such pull requests only)."""
    built = {}
    for name, spec in (gates.get("builds") or {}).items():
        wanted = any(run.get(suite) for suite in spec.get("suites", ()))
        paths = spec.get("paths") or []
        if paths:
            wanted = wanted and event_name == "pull_request" and touches(paths)
        built[name] = bool(wanted)
    return built


def decide_changed(
    gates: Mapping, event_name: str, run: Mapping[str, bool]
) -> dict[str, bool]:
    """Per pool with labels_when_changed: whether this pull request changed its paths."""
    running = event_name == "pull_request" and any(run.values())
    return {
        pool: bool(running and touches(paths))
        for pool, paths in (gates.get("changed") or {}).items()
    }


def decide(gates: Mapping, event_name: str, event: Mapping) -> Decision:
    """Per suite: whether this run starts it, and why."""
    if event_name == "pull_request":
        number = (event.get("pull_request") or {}).get("number")
        if not isinstance(number, int):
            raise GateError("the pull_request event has no pull request number")
        pull = live_pull_request(number)
        run, why, blocked = decide_pull_request(gates, pull)
        return Decision(run, why, pull_labels(pull), blocked)
    if gates.get("workflow") == "nightly":
        if event_name == "schedule":
            return Decision(*decide_schedule(gates, str(event.get("schedule", ""))))
        inputs = event.get("inputs") or {}
        return Decision(*decide_dispatch(gates, str(inputs.get("suite", "all"))))
    return Decision(
        {name: True for name in gates["suites"]},
        {name: f"a {event_name} runs every suite" for name in gates["suites"]},
    )


# --- what the gate writes: step outputs and the summary -------------------------------


def write_output(name: str, value: str) -> None:
    """One `name=value` line in GITHUB_OUTPUT, checked by step_files (values are JSON on one line)."""
    try:
        line = step_files.check_line(name, value)
        path = os.environ.get("GITHUB_OUTPUT")
        if path:
            step_files.write_lines(path, {name: value})
    except step_files.StepFileError as error:
        raise GateError(f"output {error}") from None
    print(line)


def write_summary(text: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


# --- commands: decide, finish ---------------------------------------------------------


def decide_command(plan_path: str) -> int:
    gates = json.loads(os.environ.get("CIGEN_GATES") or "null")
    if not isinstance(gates, dict) or not isinstance(gates.get("suites"), dict):
        raise UsageError(
            "CIGEN_GATES must hold the workflow's gates as JSON (cigen render writes it)"
        )
    event_name = os.environ.get("GITHUB_EVENT_NAME", "")
    event = (
        read_json_file(os.environ["GITHUB_EVENT_PATH"], "the event")
        if os.environ.get("GITHUB_EVENT_PATH")
        else {}
    )
    decision = decide(gates, event_name, event if isinstance(event, dict) else {})
    run, why = decision.run, decision.why
    shards = plan_shards(plan_path, list(gates["suites"]))
    at_once = parallel(gates, event_name, decision.labels, shards)
    write_output("run", json.dumps(run, separators=(",", ":"), sort_keys=True))
    write_output("shards", json.dumps(shards, separators=(",", ":"), sort_keys=True))
    write_output("parallel", json.dumps(at_once, separators=(",", ":"), sort_keys=True))
    write_output("blocked", decision.blocked)
    built = decide_builds(gates, event_name, run)
    changed = decide_changed(gates, event_name, run)
    write_output("builds", json.dumps(built, separators=(",", ":"), sort_keys=True))
    write_output("changed", json.dumps(changed, separators=(",", ":"), sort_keys=True))
    rows = [
        f"| `{name}` | {'yes' if run[name] else 'no'} | {len(shards[name])} "
        f"| {at_once[name]} | {why[name]} |"
        for name in sorted(run)
    ]
    header = (
        f"### Which suites run ({event_name})\n\n"
        "| suite | runs | shards | at once | why |\n|---|---|---|---|---|\n"
    )
    blocked = f"\n**{decision.blocked}**\n" if decision.blocked else ""
    extra = [
        f"- build `{name}`: {'yes' if ran else 'no'}"
        for name, ran in sorted(built.items())
    ]
    extra += [
        f"- pool `{name}` on its changed-paths labels: {'yes' if on else 'no'}"
        for name, on in sorted(changed.items())
    ]
    more = "\n" + "\n".join(extra) + "\n" if extra else ""
    write_summary(header + "\n".join(rows) + "\n" + blocked + more)
    return EXIT_OK


def finish_command() -> int:
    needs = json.loads(os.environ.get("NEEDS") or "null")
    if not isinstance(needs, dict):
        raise UsageError("NEEDS must hold toJSON(needs) of the jobs this one waits for")
    results = {
        job: (entry or {}).get("result", "unknown") for job, entry in needs.items()
    }
    failed = sorted(job for job, result in results.items() if result in FAILED_RESULTS)
    gate = needs.get("gate") or {}
    blocked = str((gate.get("outputs") or {}).get("blocked") or "")
    rows = "\n".join(
        f"| `{job}` | {result} |" for job, result in sorted(results.items())
    )
    verdict = "failed" if failed or blocked else "passed"
    line = f"{blocked}\n\n" if blocked else ""
    write_summary(
        f"### Result: {verdict}\n\n{line}| job | result |\n|---|---|\n{rows}\n"
    )
    for job in failed:
        print(f"::error title={results[job]}::{job} {results[job]}", flush=True)
    if blocked:
        print(f"::error title=CI did not run::{blocked}", flush=True)
    return EXIT_FAILED if failed or blocked else EXIT_OK


class UsageError(Exception):
    """A mistake in how the gate was called; exit 2."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="ci_gate.py", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    decide_parser = commands.add_parser(
        "decide", help="Which suites this run starts (the gate job)."
    )
    decide_parser.add_argument(
        "--plan", required=True, help=f"The plan file ({plan_file.PLAN_PATH})."
    )
    commands.add_parser(
        "finish",
        help="Fail when a needed job failed or was cancelled (the finish job).",
    )
    options = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return (
            decide_command(options.plan)
            if options.command == "decide"
            else finish_command()
        )
    except UsageError as error:
        print(f"ci_gate.py: {error}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    except GateError as error:
        print(f"::error title=cigen gate::{error}", flush=True)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

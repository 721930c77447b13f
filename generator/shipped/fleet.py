"""The fleet's health from shard results: per runner and per pool, jobs, infra failures,
the last failure, drained or not; a markdown table, a text bar chart, and the runners
above an infra rate with the probes they failed.

Standard library only (cigen copies it into `.github/cigen/` for the re-dispatch
workflow's summary; `cigen health RESULTS_DIR...` prints the same report locally).

A results file is the shard runner's (`run_shard.py run --results`), or a health record
of the job-started hook (`health.py check --record`). Either may come from a pull
request's run, so it is read as untrusted data: `parse_outcome` checks every field it
uses (types, lengths, known values, a safe character set for names) and raises
ResultsError for anything else; nothing read from it is ever executed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# --- Limits and known values ----------------------------------------------------------

EXIT_INFRA = 3
# The shard runner's FAILURE_CLASSES (tests check they agree).
FILE_CLASSES = (
    "passed",
    "flaky",
    "test",
    "flaky-accuracy",
    "infra",
    "timeout",
    "not-run",
    "missing",
)
FAILED_CLASSES = ("test", "flaky-accuracy", "infra", "timeout", "missing")
MAX_FILES = 10000  # entries of one results file
MAX_TEXT = 300  # a reason is cut to this
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.:()/\[\]-]{0,199}\Z")  # runner, pool, job
PROBE = re.compile(r"[a-z][a-z0-9-]{0,39}\Z")
BAR_WIDTH = 20
LAST_FAILURE = 120  # characters of the last failure a table shows
DEFAULT_MAX_INFRA_RATE = 0.2
MERMAID_RUNNERS = 30  # bars a chart stays readable with


# --- Reading a results file or health record (untrusted) ------------------------------


class ResultsError(Exception):
    """A results file or health record that does not hold what cigen writes."""


class NoRunner(ResultsError):
    """A results file of a shard runner that did not record its runner (older cigen)."""


@dataclass(frozen=True)
class Outcome:
    """One job on one runner, as its results file or health record tells it."""

    runner: str
    pool: str  # "" when not recorded
    job_name: str  # the jobs API's name of the job ("" when not recorded)
    run_id: str
    run_attempt: str
    started: str  # ISO time, for ordering
    exit_status: int | None  # the shard's; 3: infra; None: unfinished
    probe: str  # the failing probe of an infra outcome ("" otherwise)
    reason: str  # why it failed ("" when it passed)
    failed_classes: tuple[str, ...]  # final classes of the files that did not pass
    drained: bool
    drain_command: str | None

    @property
    def infra(self) -> bool:
        return self.exit_status == EXIT_INFRA

    @property
    def failed(self) -> bool:
        return self.exit_status not in (0, None)


def clean_text(value: str) -> str:
    """Untrusted text as one short, inert line: no control characters, no backticks or
    pipes (tables, code spans), no @mentions."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", value)
    text = text.replace("`", "'").replace("|", "/").replace("@", "(at)")
    return text.strip()[:MAX_TEXT]


def _get(data: dict, key: str, kind: type | tuple, where: str, optional: bool = False):
    if key not in data or data[key] is None:
        if optional:
            return None
        raise ResultsError(f"{where}: missing {key!r}")
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise ResultsError(f"{where}: {key!r} must be {kind}, got a boolean")
    if not isinstance(value, kind):
        raise ResultsError(f"{where}: {key!r} has the wrong type")
    return value


def _name(value: object, where: str, what: str) -> str:
    if not isinstance(value, str) or not NAME.match(value):
        raise ResultsError(f"{where}: {what} is not a plain name")
    return value


def _probe(value: object, where: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str) or not PROBE.match(value):
        raise ResultsError(f"{where}: probe is not a probe name")
    return value


def _github(data: dict, where: str) -> tuple[str, str]:
    github = _get(data, "github", dict, where, optional=True) or {}
    run_id = github.get("run_id", "")
    attempt = github.get("run_attempt", "")
    for value in (run_id, attempt):
        if not isinstance(value, str) or (value and not value.isdigit()):
            raise ResultsError(f"{where}: github run ids must be digits")
    return run_id, attempt


def _drain(data: dict, where: str) -> tuple[bool, str | None]:
    drain = _get(data, "drain", dict, where, optional=True)
    if drain is None:
        return False, None
    drained = drain.get("drained", False)
    command = drain.get("command")
    if not isinstance(drained, bool) or not isinstance(command, (str, type(None))):
        raise ResultsError(f"{where}: drain has the wrong shape")
    return drained, clean_text(command) if command else None


def parse_outcome(data: object, where: str) -> Outcome:
    """A results file or a health record, checked field by field."""
    if not isinstance(data, dict):
        raise ResultsError(f"{where}: not a JSON object")
    if data.get("kind") == "cigen-health":
        return _health_outcome(data, where)
    if "runner" not in data and "version" not in data and "files" in data:
        raise NoRunner(f"{where}: written before cigen recorded the runner")
    if _get(data, "version", int, where) != 1:
        raise ResultsError(f"{where}: unknown version")
    runner = _get(data, "runner", dict, where)
    name = _name(runner.get("name"), where, "runner.name")
    pool = runner.get("pool", "")
    pool = _name(pool, where, "runner.pool") if pool else ""
    job_name = runner.get("job_name", "")
    job_name = _name(job_name, where, "runner.job_name") if job_name else ""
    exit_status = data.get("exit_status")
    if exit_status not in (None, 0, 1, 2, EXIT_INFRA) or isinstance(exit_status, bool):
        raise ResultsError(f"{where}: exit_status must be 0-3 or null")
    preflight = _get(data, "preflight", dict, where)
    status = preflight.get("status")
    if status not in ("passed", "failed", "skipped"):
        raise ResultsError(f"{where}: preflight.status is unknown")
    files = _get(data, "files", list, where)
    if len(files) > MAX_FILES:
        raise ResultsError(f"{where}: more than {MAX_FILES} files")
    failed, probe, reason = [], "", ""
    for index, entry in enumerate(files):
        if not isinstance(entry, dict) or entry.get("class") not in FILE_CLASSES:
            raise ResultsError(f"{where}: files[{index}] has no known class")
        attempts = entry.get("attempts", [])
        if not isinstance(attempts, list) or not all(
            isinstance(a, dict) for a in attempts
        ):
            raise ResultsError(f"{where}: files[{index}].attempts must be objects")
        if entry["class"] in FAILED_CLASSES:
            failed.append(entry["class"])
            last = attempts[-1] if attempts else {}
            if not reason:
                path = entry.get("path") if isinstance(entry.get("path"), str) else "?"
                text = last.get("reason") if isinstance(last.get("reason"), str) else ""
                reason = clean_text(f"{path}: {entry['class']}: {text}")
            if entry["class"] == "infra" and not probe:
                probe = _probe(last.get("probe"), f"{where}: files[{index}]")
    if status == "failed":
        probe = _probe(preflight.get("probe"), f"{where}: preflight") or "preflight"
        text = preflight.get("reason")
        reason = clean_text(text) if isinstance(text, str) else ""
    drained, command = _drain(data, where)
    run_id, attempt = _github(data, where)
    started = data.get("started") if isinstance(data.get("started"), str) else ""
    return Outcome(
        runner=name,
        pool=pool,
        job_name=job_name,
        run_id=run_id,
        run_attempt=attempt,
        started=clean_text(started),
        exit_status=exit_status,
        probe=probe,
        reason=reason,
        failed_classes=tuple(failed),
        drained=drained,
        drain_command=command,
    )


def _health_outcome(data: dict, where: str) -> Outcome:
    """A job-started hook's health record: infra when it failed, else a healthy job."""
    runner = _get(data, "runner", dict, where)
    name = _name(runner.get("name"), where, "runner.name")
    health = _get(data, "health", dict, where)
    status = health.get("status")
    if status not in ("passed", "failed", "skipped"):
        raise ResultsError(f"{where}: health.status is unknown")
    failed = status == "failed"
    reason = health.get("reason") if isinstance(health.get("reason"), str) else ""
    drained, command = _drain(data, where)
    run_id, attempt = _github(data, where)
    at = data.get("at") if isinstance(data.get("at"), str) else ""
    return Outcome(
        runner=name,
        pool="",
        job_name="",
        run_id=run_id,
        run_attempt=attempt,
        started=clean_text(at),
        exit_status=EXIT_INFRA if failed else 0,
        probe=_probe(health.get("probe"), where) if failed else "",
        reason=clean_text(reason) if failed else "",
        failed_classes=("infra",) if failed else (),
        drained=drained,
        drain_command=command,
    )


# --- Rows per runner and per pool -----------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One runner (or one pool) over every outcome given."""

    name: str
    pool: str
    jobs: int
    infra: int
    failures: int
    last_failure: str  # "probe: reason" of the latest failure, "" when none
    drained: bool  # its latest outcome drained it
    probes: tuple[tuple[str, int], ...]  # failing probes and how often, most first

    @property
    def infra_rate(self) -> float:
        return self.infra / self.jobs if self.jobs else 0.0


def _row(name: str, pool: str, outcomes: Sequence[Outcome]) -> Row:
    ordered = sorted(outcomes, key=lambda o: o.started)
    failures = [o for o in ordered if o.failed]
    last = failures[-1] if failures else None
    last_failure = ""
    if last is not None:
        what = last.probe if last.infra else ",".join(sorted(set(last.failed_classes)))
        last_failure = f"{what or 'infra'}: {last.reason}" if last.reason else what
    counts: dict[str, int] = {}
    for outcome in ordered:
        if outcome.infra:
            probe = outcome.probe or "unknown"
            counts[probe] = counts.get(probe, 0) + 1
    probes = tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    return Row(
        name=name,
        pool=pool,
        jobs=len(ordered),
        infra=sum(o.infra for o in ordered),
        failures=len(failures),
        last_failure=last_failure,
        drained=bool(ordered) and ordered[-1].drained,
        probes=probes,
    )


def runner_rows(outcomes: Iterable[Outcome]) -> list[Row]:
    """One row per runner, sorted by pool then name; a runner's pool is the one it
    recorded most recently."""
    by_runner: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_runner.setdefault(outcome.runner, []).append(outcome)
    rows = []
    for name, mine in by_runner.items():
        pools = [o.pool for o in sorted(mine, key=lambda o: o.started) if o.pool]
        rows.append(_row(name, pools[-1] if pools else "", mine))
    return sorted(rows, key=lambda row: (row.pool, row.name))


def pool_rows(outcomes: Iterable[Outcome]) -> list[Row]:
    """One row per pool ("" for outcomes that recorded none)."""
    outcomes = list(outcomes)
    runner_pool = {row.name: row.pool for row in runner_rows(outcomes)}
    by_pool: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        pool = outcome.pool or runner_pool.get(outcome.runner, "")
        by_pool.setdefault(pool, []).append(outcome)
    rows = [_row(pool or "(none)", pool, mine) for pool, mine in by_pool.items()]
    return sorted(rows, key=lambda row: row.name)


def sick_runners(rows: Iterable[Row], max_infra_rate: float) -> list[Row]:
    """Runners whose share of infra failures is above the rate."""
    return [row for row in rows if row.infra and row.infra_rate > max_infra_rate]


# --- The report: charts and tables ----------------------------------------------------


def bar(row: Row) -> str:
    """`#` for infra failures, `x` for other failures, `.` for the rest, of BAR_WIDTH."""
    if not row.jobs:
        return "." * BAR_WIDTH
    infra = round(BAR_WIDTH * row.infra / row.jobs)
    other = round(BAR_WIDTH * (row.failures - row.infra) / row.jobs)
    if row.infra and not infra:
        infra = 1
    other = min(other, BAR_WIDTH - infra)
    return "#" * infra + "x" * other + "." * (BAR_WIDTH - infra - other)


def chart(rows: Sequence[Row]) -> str:
    """A text bar chart, one runner a line."""
    width = max((len(row.name) for row in rows), default=0)
    lines = [
        f"{row.name.ljust(width)} |{bar(row)}| {row.infra}/{row.jobs} infra"
        + (", drained" if row.drained else "")
        for row in rows
    ]
    legend = "# infra failure, x other failure, . passed"
    return "\n".join(lines + [legend]) + "\n"


def mermaid_chart(rows: Sequence[Row]) -> str:
    """A mermaid bar chart of jobs per runner with its infra failures drawn over them,
    for the runners that failed most (at most MERMAID_RUNNERS)."""
    shown = sorted(rows, key=lambda row: (-row.infra, -row.failures, row.name))
    shown = sorted(shown[:MERMAID_RUNNERS], key=lambda row: (row.pool, row.name))
    names = ", ".join(f'"{row.name}"' for row in shown)
    top = max((row.jobs for row in shown), default=1)
    return (
        "```mermaid\nxychart-beta\n"
        '    title "Jobs (tall bar) and infra failures (short bar) per runner"\n'
        f"    x-axis [{names}]\n"
        f'    y-axis "jobs" 0 --> {top}\n'
        f"    bar [{', '.join(str(row.jobs) for row in shown)}]\n"
        f"    bar [{', '.join(str(row.infra) for row in shown)}]\n"
        "```\n"
    )


def shortened(text: str) -> str:
    """At most LAST_FAILURE characters, cut at a space and marked when cut."""
    if len(text) <= LAST_FAILURE:
        return text
    return text[: LAST_FAILURE - 3].rsplit(" ", 1)[0] + "..."


def _cell(text: str) -> str:
    return clean_text(text) or "-"


def runner_table(rows: Sequence[Row]) -> str:
    head = "| runner | pool | jobs | infra | failures | last failure | drained |\n"
    head += "|---|---|---:|---:|---:|---|---|\n"
    body = "".join(
        f"| `{row.name}` | {_cell(row.pool)} | {row.jobs} | {row.infra} | {row.failures}"
        f" | {_cell(shortened(row.last_failure))} | {'yes' if row.drained else 'no'} |\n"
        for row in rows
    )
    return head + body


def pool_table(pools: Sequence[Row], runners: Sequence[Row]) -> str:
    head = "| pool | runners | drained | jobs | infra | failures | last failure |\n"
    head += "|---|---:|---:|---:|---:|---:|---|\n"
    body = ""
    for pool in pools:
        mine = [r for r in runners if (r.pool or "(none)") == pool.name]
        drained = sum(r.drained for r in mine)
        body += (
            f"| `{pool.name}` | {len(mine)} | {drained} | {pool.jobs} | {pool.infra}"
            f" | {pool.failures} | {_cell(shortened(pool.last_failure))} |\n"
        )
    return head + body


def flagged_lines(rows: Sequence[Row], max_infra_rate: float) -> list[str]:
    lines = []
    for row in sick_runners(rows, max_infra_rate):
        probes = ", ".join(f"{name} x{count}" for name, count in row.probes)
        rate = f"{row.infra_rate:.0%}"
        limit = f"{max_infra_rate:.0%}"
        state = "drained" if row.drained else "NOT drained"
        lines.append(
            f"{row.name} ({row.pool or 'no pool'}): {row.infra} of {row.jobs} jobs infra"
            f" ({rate} > {limit}), {state}; failing probes: {probes}"
        )
    return lines


def report(
    outcomes: Sequence[Outcome],
    max_infra_rate: float,
    title: str,
    mermaid: bool = False,
) -> str:
    """The whole report in markdown: runners, pools, the chart, the sick runners; the
    chart in mermaid for a page that draws it (a job summary), else in text."""
    runners = runner_rows(outcomes)
    text = f"### {title}\n\n"
    if not runners:
        return text + "No results.\n"
    flagged = flagged_lines(runners, max_infra_rate)
    if flagged:
        limit = f"{max_infra_rate:.0%}"
        text += f"**Runners above the infra rate of {limit}:**\n\n"
        text += "".join(f"- {line}\n" for line in flagged) + "\n"
    else:
        text += f"No runner above the infra rate of {max_infra_rate:.0%}.\n\n"
    text += runner_table(runners) + "\n"
    text += pool_table(pool_rows(outcomes), runners) + "\n"
    if mermaid:
        return text + mermaid_chart(runners)
    return text + "```text\n" + chart(runners) + "```\n"

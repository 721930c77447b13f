"""Results files of cigen's shard runner (`run_shard.py run --results FILE`) -> one sample per passed file.

A file's sample is its last attempt: the one that passed (a flaky file passed on retry). Files that did
not pass give no sample, as in the history reader: a failure often ends early or at its timeout.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import ProblemReport, UserError, plural
from generator.jsonpos import parse_json, schema_problems
from generator.shipped.run_shard import FAILURE_CLASSES, PASSING_CLASSES
from generator.timings.samples import Measurements, Sample

MAX_SECONDS = 7 * 24 * 3600  # a test file that runs longer than a week is not a measurement
_SECONDS = {"type": "number", "minimum": 0, "maximum": MAX_SECONDS, "description": "a number of seconds, 0 to a week"}
RESULTS_SCHEMA = {
    "type": "object",
    "required": ["suite", "shard", "files"],
    "properties": {
        "suite": {"type": "string", "minLength": 1},
        "shard": {"type": "integer", "minimum": 0},
        "github": {"type": "object", "additionalProperties": {"type": "string"}},
        "files": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "class", "attempts"],
                "properties": {
                    "path": {"type": "string", "minLength": 1},
                    "class": {"enum": list(FAILURE_CLASSES), "description": f"one of {', '.join(FAILURE_CLASSES)}"},
                    "attempts": {
                        "type": "array",
                        "items": {"type": "object", "required": ["seconds"], "properties": {"seconds": _SECONDS}},
                    },
                },
            },
        },
    },
}


def results_document(text: str, source: str) -> dict:
    """A schema-valid results document (strict JSON: finite numbers, bounded nesting); every problem at its line."""
    data = parse_json(text, source, "results-json")
    problems = schema_problems(data, text, RESULTS_SCHEMA, source, "results-schema")
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {source}; nothing done.")
    return data


def read_run_results(path: Path) -> Measurements:
    """Samples of the passed and flaky files, for the results' suite; the job is the GitHub run's, when known."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(str(path), 0, "results-json", f"cannot read: {error}") from None
    data = results_document(text, str(path))
    suite, shard = data["suite"], data["shard"]
    github = data.get("github", {})
    job = f"{github['run_id']}/{github.get('run_attempt', '1')}/{suite} ({shard})" if "run_id" in github else str(path)
    run_id = int(github["run_id"]) if github.get("run_id", "").isdigit() else None
    run_time = github.get("run_started_at")
    samples = []
    not_passed = 0
    for entry in data["files"]:
        if entry["class"] in PASSING_CLASSES and entry["attempts"]:
            seconds = float(entry["attempts"][-1]["seconds"])
            samples.append(Sample(entry["path"], seconds, suite, job, run_id, run_time))
        elif entry["attempts"]:
            not_passed += 1
    skipped = (("files that did not pass in runner results", not_passed),) if not_passed else ()
    return Measurements(samples=tuple(samples), skipped=skipped)

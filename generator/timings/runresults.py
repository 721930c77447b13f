"""Results files of cigen's shard runner (`run_shard.py run --results FILE`) -> one sample per passed file.

A file's sample is its last attempt: the one that passed (a flaky file passed on retry). Files that did
not pass give no sample, as in the history reader: a failure often ends early or at its timeout.
"""

from __future__ import annotations

from pathlib import Path

from generator.errors import ProblemReport, plural
from generator.jsonpos import read_json, schema_problems
from generator.shipped.run_shard import FAILURE_CLASSES, PASSING_CLASSES
from generator.timings.samples import Measurements, Sample

_SECONDS = {"type": "number", "minimum": 0, "description": "a number of seconds >= 0"}
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


def read_run_results(path: Path) -> Measurements:
    """Samples of the passed and flaky files, for the results' suite; the job is the GitHub run's, when known."""
    data, text = read_json(path, "results-json")
    problems = schema_problems(data, text, RESULTS_SCHEMA, str(path), "results-schema")
    if problems:
        raise ProblemReport(problems, f"{plural(len(problems), 'error')} in {path}; nothing done.")
    suite, shard = data["suite"], data["shard"]
    github = data.get("github", {})
    job = f"{github['run_id']}/{github.get('run_attempt', '1')}/{suite} ({shard})" if "run_id" in github else str(path)
    samples = []
    not_passed = 0
    for entry in data["files"]:
        if entry["class"] in PASSING_CLASSES and entry["attempts"]:
            samples.append(Sample(entry["path"], float(entry["attempts"][-1]["seconds"]), suite, job))
        elif entry["attempts"]:
            not_passed += 1
    skipped = (("files that did not pass in runner results", not_passed),) if not_passed else ()
    return Measurements(samples=tuple(samples), skipped=skipped)

"""generator/shipped/plan_file.py: the plan file's one writer, reader and version check, used by
cigen and by the shipped programs alike."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.errors import UserError
from generator.pipeline import Build, build, load_planning_timings, read_inputs
from generator.plan import plan_file_of
from generator.rerun.budget import planned_seconds
from generator.shipped import ci_gate, plan_file
from generator.shipped.plan_file import PlanFile, PlanFileError, PlannedFile, PlannedShard
from tests.support.rendering import GOLDEN, REPO_ROOT

NEWER = (
    "the plan file is version 2; this cigen reads version 1. "
    "Regenerate it with `cigen render` (or `cigen plan --format json`)."
)


def build_tree(root) -> Build:
    """What `cigen render` plans for `root`, from scratch."""
    inputs = read_inputs(root, None, False)
    return build(inputs, load_planning_timings(inputs, None), None)


def shard(*files: tuple[str, float]) -> dict:
    return {"est_seconds": sum(s for _, s in files), "files": [{"file": f, "est_seconds": s} for f, s in files]}


def test_the_committed_golden_plan_reads_back_as_the_plan_that_wrote_it():
    built = build_tree(GOLDEN / "tree")
    written = plan_file.read(GOLDEN / "expected" / "cigen" / "plan.json")
    assert written == plan_file_of(built.plan)
    assert written.shard_paths() == {sp.suite.name: [list(s.files) for s in sp.shards] for sp in built.plan.suites}


def test_seconds_are_written_to_a_tenth_and_read_back_unchanged(tmp_path):
    plan = PlanFile({"s": (PlannedShard(3.14159, (PlannedFile("t/a.py", 1.04), PlannedFile("t/b.py", 2.10159))),)})
    path = tmp_path / "plan.json"
    path.write_text(plan_file.text(plan, "by a test"))
    assert path.read_text().splitlines() == [
        "{",
        '  "@generated": "by a test",',
        '  "version": 1,',
        '  "suites": {',
        '    "s": {',
        '      "shards": [',
        '        {"est_seconds": 3.1, "files": [',
        '          {"file": "t/a.py", "est_seconds": 1.0},',
        '          {"file": "t/b.py", "est_seconds": 2.1}',
        "        ]}",
        "      ]",
        "    }",
        "  }",
        "}",
    ]
    assert plan_file.read(path) == PlanFile(
        {"s": (PlannedShard(3.1, (PlannedFile("t/a.py", 1.0), PlannedFile("t/b.py", 2.1))),)}
    )
    assert plan_file.read(path).file_seconds() == {("s", "t/a.py"): 1.0, ("s", "t/b.py"): 2.1}


def test_plan_format_json_is_the_plan_files_shape_plus_costs():
    result = CliRunner().invoke(cli, ["plan", "--root", str(GOLDEN / "tree"), "--format", "json", "--no-cache"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert plan_file.parse(document, "stdout") == plan_file_of(build_tree(GOLDEN / "tree").plan)
    assert document["version"] == 1
    shape = plan_file.document(plan_file.parse(document, "stdout"))
    for name, suite in document["suites"].items():
        assert suite["shards"] == shape["suites"][name]["shards"]
        assert {"makespan", "wall_minutes", "runner_minutes", "gpu_minutes"} <= set(suite)


VERSIONS = [
    ({"suites": {}}, "plan-version: the plan file has no 'version'; this cigen reads version 1."),
    ({"version": 2, "suites": {}}, "plan-version: the plan file is version 2;"),
    ({"version": "1", "suites": {}}, 'plan-version: the plan file is version "1";'),
    ({"version": True, "suites": {}}, "plan-version: the plan file is version true;"),
]
SHAPES = [
    ([], "bad-plan-file: expected a JSON object with 'version' and 'suites'"),
    ({"version": 1}, "bad-plan-file: 'suites' must be an object"),
    ({"version": 1, "suites": {"s": {}}}, "bad-plan-file: suites.s.shards must be a list"),
    ({"version": 1, "suites": {"s": {"shards": [{}]}}}, "bad-plan-file: suites.s.shards[0].files must be a list"),
    (
        {"version": 1, "suites": {"s": {"shards": [{"est_seconds": 1, "files": ["t/a.py"]}]}}},
        "bad-plan-file: suites.s.shards[0].files[0] must be an object with 'file' and 'est_seconds'",
    ),
    (
        {"version": 1, "suites": {"s": {"shards": [{"est_seconds": 1, "files": [{"file": "", "est_seconds": 1}]}]}}},
        'bad-plan-file: suites.s.shards[0].files[0].file must be a non-empty path, got ""',
    ),
    (
        {"version": 1, "suites": {"s": {"shards": [{"files": [{"file": "t/a.py", "est_seconds": 1}]}]}}},
        "bad-plan-file: suites.s.shards[0].est_seconds must be a number >= 0, got null",
    ),
    *(
        (
            {"version": 1, "suites": {"s": {"shards": [shard(("t/a.py", 1)) | {"est_seconds": bad}]}}},
            f"bad-plan-file: suites.s.shards[0].est_seconds must be a number >= 0, got {shown}",
        )
        for bad, shown in [(-1, "-1"), (True, "true"), ("9", '"9"'), (10**400, str(10**400)[:37] + "...")]
    ),
]


@pytest.mark.parametrize(("data", "message"), VERSIONS + SHAPES)
def test_the_reader_names_the_first_problem(tmp_path, data, message):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError) as raised:
        plan_file.read(path)
    assert str(raised.value).startswith(f"{path}: {message}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"version": 1, "suites": {"s": {"shards": [{"est_seconds": 1e400, "files": []}]}}}', "got Infinity"),
        ("{", "bad-plan-file: invalid JSON: Expecting property name"),
        (b"\xff", "bad-plan-file: not UTF-8"),
    ],
)
def test_infinite_seconds_and_broken_files_are_refused(tmp_path, text, message):
    path = tmp_path / "plan.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(PlanFileError, match=re.escape(message)):
        plan_file.read(path)


def test_every_reader_refuses_a_version_it_does_not_know(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text('{"version": 2, "suites": {}}')
    with pytest.raises(ci_gate.GateError, match=re.escape(f"{path}: plan-version: {NEWER}")):
        ci_gate.plan_shards(str(path), ["s"])
    with pytest.raises(UserError) as raised:
        planned_seconds(path)
    assert raised.value.problem.format() == f"{path}: plan-version: {NEWER}"
    # The runner, and `cigen plan --previous/--diff`: tests/test_run_shard.py, tests/test_plan.py.


def test_the_plan_files_path_is_defined_once():
    """Only generator/shipped/plan_file.py spells out where the plan file lives."""
    spelled = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in sorted((REPO_ROOT / "generator").rglob("*.py"))
        if re.search(r"""["'](\.github/)?cigen/plan\.json["']""", path.read_text())
    ]
    assert spelled == ["generator/shipped/plan_file.py"]

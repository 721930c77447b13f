"""How much of the committed CI a routine change rewrites, on sglang's tree: a new test file,
and one est_time changed. The workflows should not move at all; the plan file a few lines."""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path

from benchmarks.common import Targets, table
from generator.render.files import write_generated
from generator.render.repository import RenderRequest, render_repository
from tests.support.synth import write_tree

NEW_FILE = "test/registered/core/test_new_feature.py"
NEW_SOURCE = (
    'register_cuda_ci(est_time=300, stage="base-b", runner_config="1-gpu-large")\n'
    '\nif __name__ == "__main__":\n    main()\n'
)
EDITED = "test/registered/reasoning/test_reasoning.py"  # base-b-test-1-gpu-large, est_time=9


def render(root: Path) -> dict[str, str]:
    rendered = render_repository(RenderRequest(root), "nothing written")
    write_generated(rendered.files, rendered.github_dir)
    return {path.relative_to(root).as_posix(): text for path, text in rendered.files.items()}


def changed_lines(before: dict[str, str], after: dict[str, str], kind: str) -> int:
    """Lines added plus removed, over the workflows or the plan file."""
    paths = sorted(p for p in set(before) | set(after) if (kind == "workflows") == p.startswith(".github/workflows/"))
    total = 0
    for path in paths:
        diff = difflib.unified_diff(
            before.get(path, "").splitlines(), after.get(path, "").splitlines(), lineterm="", n=0
        )
        total += sum(1 for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---")))
    return total


def main(targets: Targets) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sglang"
        shutil.copytree(write_tree(Path(tmp) / "tree").root, root)
        base = render(root)
        (root / NEW_FILE).write_text(NEW_SOURCE)
        added = render(root)
        edited_path = root / EDITED
        text = edited_path.read_text()
        old = text[text.index("est_time=") :].split(",", 1)[0]
        edited_path.write_text(text.replace(old, "est_time=999", 1))
        edited = render(root)
    rows = [
        (
            "add one test file (300 s, base-b-test-1-gpu-large)",
            changed_lines(base, added, "workflows"),
            changed_lines(base, added, "plan"),
        ),
        (
            f"change one est_time ({old} -> est_time=999)",
            changed_lines(added, edited, "workflows"),
            changed_lines(added, edited, "plan"),
        ),
    ]
    print("## What one routine change rewrites (sglang's tree, lines added + removed)\n")
    print(table(("change", "workflow lines", "plan file lines"), rows))
    print()
    for change, workflow, _ in rows:
        targets.check(f"{change.split(' (')[0]}: no workflow line changes", workflow == 0, f"{workflow} lines")

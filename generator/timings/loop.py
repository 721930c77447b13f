"""The timings loop: recent shard results in, a pull request with new timings and plan out.

`fetch_results` downloads the runner's results artifacts of the last days (every shard job
uploads one, `cigen-results-<job>-<shard>-<attempt>`); `cigen calibrate --results DIR` and
`cigen render` turn them into a timings file and a plan file; `propose` commits those files, and
only files under `.github/cigen/`, to cigen's own branch and opens a pull request. A token that
may push contents but not workflows (the default GITHUB_TOKEN) is enough, and never more is asked.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from generator.errors import UserError
from generator.github.client import GitHub
from generator.names import RESULTS_ARTIFACT, RESULTS_FILE

PROPOSABLE = ".github/cigen/"  # the only folder a timings pull request may change


def fetch_results(github: GitHub, days: int, out: Path, now: datetime) -> list[Path]:
    """Each recent results artifact's results file, as OUT/<artifact name>.json; newest first."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for artifact in github.artifacts(f"{RESULTS_ARTIFACT}-", now - timedelta(days=days)):
        try:
            with zipfile.ZipFile(io.BytesIO(github.download_artifact(artifact.artifact_id))) as archive:
                text = archive.read(RESULTS_FILE)
        except (zipfile.BadZipFile, KeyError):
            continue  # an artifact of that name without a results file (a failed upload): nothing to learn
        path = out / f"{artifact.name}.json"
        path.write_bytes(text)
        written.append(path)
    return written


def propose(github: GitHub, root: Path, files: list[str], branch: str, base: str, title: str) -> str | None:
    """Commit `files` (repository paths under .github/cigen/) on top of `base` to `branch` and open a
    pull request; None when they are what `base` has already."""
    outside = [path for path in files if not path.startswith(PROPOSABLE) or ".." in Path(path).parts]
    if outside:
        raise UserError(
            outside[0], 0, "not-proposable", f"a timings pull request changes only files under {PROPOSABLE}"
        )
    head = github.branch_head(base)
    if head is None:
        raise UserError("", 0, "no-base-branch", f"the base branch {base!r} does not exist")
    texts = {path: (root / path).read_text(encoding="utf-8") for path in files}
    changed = {path: text for path, text in texts.items() if github.file_text(path, head) != text}
    if not changed:
        return None
    names = ", ".join(sorted(changed))
    commit = github.commit_files(
        changed, head, f"Update shard timings and plan\n\ncigen calibrate and cigen render: {names}"
    )
    github.point_branch(branch, commit)
    body = (
        "Measured shard durations of the last runs, calibrated (`cigen calibrate --results`) and re-planned "
        f"(`cigen render`). Changed: {names}. No workflow file changes."
    )
    return github.open_pull(branch, base, title, body)

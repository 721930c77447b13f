"""The test doubles' one script: `python3 doubles.py checkout|setup-python|upload-artifact|download-artifact`.

Each composite action.yml beside this file passes its inputs as JSON in DOUBLE_INPUTS; the
harness (tests/act/harness.py) sets CIGEN_ACT_SOURCE (the fixture repository), CIGEN_ACT_RECORDS
(a JSON-lines file every call appends to) and CIGEN_ACT_ARTIFACTS (where uploads are copied).
Standard library only: it runs under the machine's python3, inside act's host-mode jobs.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

FULL_SHA = re.compile(r"[0-9a-f]{40}")
# @actions/artifact's path-and-artifact-name validation (upload-artifact v4).
BAD_NAME_CHARS = '":<>|*?\r\n\\/'
BAD_PATH_CHARS = '":<>|*?\r\n'
# Lets a shallow fetch ask for any commit by SHA, as github.com's server allows.
UPLOAD_PACK = "git -c uploadpack.allowAnySHA1InWant=true upload-pack"


class DoubleError(Exception):
    """A request the real action would refuse, or one this double does not serve."""


def record(action: str, inputs: dict, **details: object) -> None:
    """Append one call to the harness's records, with the job and workspace it ran in."""
    shown = {key: ("<set>" if key == "token" and value else value) for key, value in inputs.items()}
    entry = {
        "kind": "action",
        "action": action,
        "inputs": shown,
        "job": os.environ.get("GITHUB_JOB", ""),
        "workspace": os.environ.get("GITHUB_WORKSPACE", ""),
        **details,
    }
    with open(os.environ["CIGEN_ACT_RECORDS"], "a") as records:
        records.write(json.dumps(entry, sort_keys=True) + "\n")


def set_outputs(**values: str) -> None:
    with open(os.environ["GITHUB_OUTPUT"], "a") as output:
        output.writelines(f"{name.replace('_', '-')}={value}\n" for name, value in values.items())


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise DoubleError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def fetch_target(inputs: dict) -> tuple[str, str]:
    """(what to fetch, the ref it stands for) as actions/checkout picks them: the event's SHA
    and ref when `ref` is empty, else the ref or SHA given."""
    ref = inputs.get("ref", "")
    if not ref:
        return os.environ["GITHUB_SHA"], os.environ.get("GITHUB_REF", "")
    if FULL_SHA.fullmatch(ref):
        return ref, ""
    qualified = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    return qualified, qualified


def local_ref(ref: str) -> str:
    """Where a fetched ref is kept, as actions/checkout names it."""
    if ref.startswith("refs/heads/"):
        return "refs/remotes/origin/" + ref.removeprefix("refs/heads/")
    if ref.startswith("refs/pull/"):
        return "refs/remotes/pull/" + ref.removeprefix("refs/pull/")
    if ref.startswith("refs/tags/"):
        return ref
    return "refs/remotes/origin/checkout"


def persist_credentials(target: Path, inputs: dict) -> None:
    """What the real action leaves in .git/config when persist-credentials is true."""
    server = inputs.get("github-server-url") or os.environ.get("GITHUB_SERVER_URL", "https://github.com")
    basic = base64.b64encode(f"x-access-token:{inputs.get('token', '')}".encode()).decode()
    git(target, "config", "--local", f"http.{server}/.extraheader", f"AUTHORIZATION: basic {basic}")


def checkout(inputs: dict) -> None:
    """Fetch and check out the requested commit of the fixture repository into the workspace."""
    repository = inputs.get("repository") or os.environ["GITHUB_REPOSITORY"]
    if repository != os.environ["GITHUB_REPOSITORY"]:
        raise DoubleError(f"the checkout double serves {os.environ['GITHUB_REPOSITORY']} only, not {repository}")
    for name in ("ssh-key", "filter"):
        if inputs.get(name):
            raise DoubleError(f"the checkout double does not implement `{name}`")
    if inputs.get("lfs") == "true" or inputs.get("submodules", "false") != "false":
        raise DoubleError("the checkout double does not implement lfs or submodules")
    workspace = Path(os.environ["GITHUB_WORKSPACE"]).resolve()
    target = (workspace / inputs.get("path", "")).resolve()
    if target != workspace and workspace not in target.parents:
        raise DoubleError(f"path {inputs.get('path')!r} is outside the workspace")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    git(target, "init", "-q")
    git(target, "remote", "add", "origin", "file://" + os.environ["CIGEN_ACT_SOURCE"])
    wanted, ref = fetch_target(inputs)
    depth = int(inputs.get("fetch-depth") or "1")
    depth_args = [f"--depth={depth}"] if depth > 0 else []
    into = local_ref(ref)
    sparse = [line.strip() for line in inputs.get("sparse-checkout", "").splitlines() if line.strip()]
    if sparse:  # only these folders (cone mode) and the top-level files are checked out
        git(target, "sparse-checkout", "set", *sparse)
    git(target, "fetch", "-q", "--no-tags", *depth_args, "--upload-pack", UPLOAD_PACK, "origin", f"+{wanted}:{into}")
    if ref.startswith("refs/heads/"):
        git(target, "checkout", "-q", "--force", "-B", ref.removeprefix("refs/heads/"), into)
    else:
        git(target, "checkout", "-q", "--force", "--detach", into)
    commit = git(target, "rev-parse", "HEAD")
    if inputs.get("persist-credentials", "true") == "true":
        persist_credentials(target, inputs)
    print(f"checkout double: {ref or wanted} at {commit} into {target} (fetch-depth {depth})")
    set_outputs(ref=ref, commit=commit)
    record("actions/checkout", inputs, commit=commit, ref=ref, path=str(target))


def setup_python(inputs: dict) -> None:
    """Install nothing: the machine's python3 serves every version asked for."""
    version = platform.python_version()
    print(f"setup-python double: asked for {inputs.get('python-version') or '(no version)'}; python3 is {version}")
    set_outputs(python_version=version, python_path=sys.executable, cache_hit="false")
    record("actions/setup-python", inputs, python=version)


def search_root(pattern: str) -> Path:
    """The fixed part of a pattern before its first wildcard (upload-artifact's search path)."""
    parts = []
    for part in Path(pattern).parts:
        if any(char in part for char in "*?["):
            break
        parts.append(part)
    root = Path(*parts) if parts else Path(".")
    return root.parent if root.is_file() else root


def matched_files(patterns: list[str]) -> tuple[Path, list[Path]]:
    """Files matched by the include patterns less the `!` ones, and their common root."""
    includes = [p for p in patterns if not p.startswith("!")]
    excludes = {Path(m).resolve() for p in patterns if p.startswith("!") for m in glob.glob(p[1:], recursive=True)}
    found: set[Path] = set()
    for pattern in includes:
        for match in map(Path, glob.glob(pattern, recursive=True, include_hidden=True)):
            found.update(m.resolve() for m in ([match] if match.is_file() else match.rglob("*")) if m.is_file())
    files = sorted(f for f in found if f not in excludes and not excludes.intersection(f.parents))
    roots = [search_root(p).resolve() for p in includes]
    return Path(os.path.commonpath(roots)) if roots else Path.cwd(), files


def upload_artifact(inputs: dict) -> None:
    """Copy the matched files to $CIGEN_ACT_ARTIFACTS/<name>/, paths relative to their common root."""
    name = inputs.get("name") or "artifact"
    for char in BAD_NAME_CHARS:
        if char in name:
            raise DoubleError(f"The artifact name is not valid: {name}. Contains the following character: {char!r}")
    patterns = [line.strip() for line in inputs.get("path", "").splitlines() if line.strip()]
    if not patterns:
        raise DoubleError("Input required and not supplied: path")
    os.chdir(os.environ["GITHUB_WORKSPACE"])
    root, files = matched_files(patterns)
    relative = [f.relative_to(root) for f in files]
    if inputs.get("include-hidden-files") != "true":
        relative = [r for r in relative if not any(part.startswith(".") for part in r.parts)]
    bad = [str(r) for r in relative if any(char in BAD_PATH_CHARS for char in str(r))]
    if bad:
        raise DoubleError(f"The path for one of the files in artifact is not valid: {bad[0]}")
    if not relative:
        message = f"No files were found with the provided path: {inputs['path']}. No artifacts will be uploaded."
        mode = inputs.get("if-no-files-found") or "warn"
        record("actions/upload-artifact", inputs, files=[], uploaded=False)
        if mode == "error":
            raise DoubleError(message)
        if mode == "warn":
            print(f"::warning::{message}")
        return
    destination = Path(os.environ["CIGEN_ACT_ARTIFACTS"]) / name
    try:
        destination.mkdir(parents=True)
    except FileExistsError:
        if inputs.get("overwrite") != "true":
            message = f"Failed to CreateArtifact: an artifact with this name already exists on the workflow run: {name}"
            raise DoubleError(message) from None
        shutil.rmtree(destination)
        destination.mkdir()
    for rel in relative:
        (destination / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, destination / rel)
    print(f"upload-artifact double: {len(relative)} file(s) as {name!r}")
    set_outputs(artifact_id=str(zlib.crc32(name.encode())), artifact_url=f"file://{destination}")
    record("actions/upload-artifact", inputs, files=sorted(map(str, relative)), uploaded=True)


def download_artifact(inputs: dict) -> None:
    """Copy $CIGEN_ACT_ARTIFACTS/<name>/ (what the upload double stored) to `path` in the workspace."""
    name = inputs.get("name") or ""
    source = Path(os.environ["CIGEN_ACT_ARTIFACTS"]) / name
    if not name or not source.is_dir():
        raise DoubleError(f"Unable to download artifact(s): Artifact not found for name: {name}")
    os.chdir(os.environ["GITHUB_WORKSPACE"])
    target = Path(inputs.get("path") or ".")
    files = sorted(p for p in source.rglob("*") if p.is_file())
    for file in files:
        (target / file.relative_to(source)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target / file.relative_to(source))
    print(f"download-artifact double: {len(files)} file(s) of {name!r} to {target}")
    set_outputs(download_path=str(target.resolve()))
    record("actions/download-artifact", inputs, files=[str(f.relative_to(source)) for f in files])


ACTIONS: dict[str, Callable[[dict], None]] = {
    "checkout": checkout,
    "setup-python": setup_python,
    "upload-artifact": upload_artifact,
    "download-artifact": download_artifact,
}


def main(argv: list[str]) -> int:
    inputs = json.loads(os.environ.get("DOUBLE_INPUTS") or "{}")
    try:
        ACTIONS[argv[0]](inputs)
    except DoubleError as error:
        print(f"::error::{error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

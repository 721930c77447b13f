"""Notes that outlive a pull request: docs/act.md holds the act-versus-GitHub differences (every
citation names one the page has), and no comment cites an issue tracker outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.rendering import REPO_ROOT

ACT_DOC = REPO_ROOT / "docs" / "act.md"
CITATION = re.compile(r"docs/act\.md, differences? ([0-9]+(?: and [0-9]+)?)")


def test_every_act_difference_cited_is_on_the_page():
    headings = {int(n) for n in re.findall(r"^### ([0-9]+)\. ", ACT_DOC.read_text(), flags=re.M)}
    assert headings == set(range(1, len(headings) + 1)) and len(headings) >= 10
    cited: dict[int, set[str]] = {}
    for path in sorted([*(REPO_ROOT / "generator").rglob("*.py"), *(REPO_ROOT / "tests").rglob("*.py")]):
        text = " ".join(path.read_text().split())  # a citation may wrap
        for numbers in CITATION.findall(text):
            for number in numbers.split(" and "):
                cited.setdefault(int(number), set()).add(path.relative_to(REPO_ROOT).as_posix())
    assert {"generator/render/contexts.py", "generator/render/jobs.py"} <= set().union(*cited.values())
    assert not {n: where for n, where in cited.items() if n not in headings}


def test_no_code_test_or_template_cites_an_issue_tracker_the_repository_does_not_have():
    """Comments say what they mean: "issue 22, F7" means nothing to whoever reads the code next."""
    pattern = re.compile(r"\b[Ii]ssues? ?#?[0-9]+|\bF[0-9]+:")
    roots = [REPO_ROOT / "generator", REPO_ROOT / "tests", REPO_ROOT / "templates"]  # docs may quote an issue
    cited = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for root in roots
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.suffix in {".py", ".j2", ".yml", ".yaml"} and "golden" not in path.parts
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if pattern.search(line) and path != Path(__file__)
    ]
    assert not cited, "\n".join(cited)


def test_every_test_the_docs_cite_as_proof_exists():
    """docs/*.md, SECURITY.md and README.md cite tests as `tests/<file>.py::<name>`: a rename
    must not leave a proof that points nowhere."""
    pages = [*sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "SECURITY.md", REPO_ROOT / "README.md"]
    cited = {
        (page.name, file, name)
        for page in pages
        for file, name in re.findall(r"(?<![\w/])tests/((?:[\w-]+/)*test_\w+\.py)::(\w+)", page.read_text())
    }
    missing = [
        f"{page}: tests/{file}::{name}"
        for page, file, name in sorted(cited)
        if not (REPO_ROOT / "tests" / file).is_file()
        or not re.search(rf"^(?:async )?def {name}\b", (REPO_ROOT / "tests" / file).read_text(), flags=re.M)
    ]
    assert len(cited) >= 40 and not missing, "\n".join(missing)

"""Synthesize sglang's real `test/registered/` tree from the shared corpus.

Each file gets its real marker calls at their real line numbers (arguments written with
`repr`, positional ones kept positional), realistic unittest code up to its real line
count, and a `__main__` block where sglang's file has one. Used by tests and benchmarks.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


SHARED_CORPUS = REPO_ROOT.parent / "shared" / "corpus"  # the team's copy, beside the checkout
VENDORED_CORPUS = REPO_ROOT / "tests" / "corpus"  # the same files, so a lone clone (or GitHub) can test


def corpus_dir() -> Path:
    """$CIGEN_CORPUS_DIR, else ../shared/corpus beside the checkout, else tests/corpus.

    tests/test_corpus.py checks that tests/corpus is byte-identical to ../shared/corpus
    wherever both exist, so the two cannot drift apart unnoticed.
    """
    override = os.environ.get("CIGEN_CORPUS_DIR")
    candidates = [Path(override)] if override else [SHARED_CORPUS, VENDORED_CORPUS]
    for path in candidates:
        if (path / "sglang-registrations.json").is_file():
            return path
    raise FileNotFoundError(
        f"sglang corpus not found at {', '.join(map(str, candidates))}; set CIGEN_CORPUS_DIR to the "
        "folder holding sglang-registrations.json and sglang-suites.json"
    )


def load_corpus() -> dict:
    return json.loads((corpus_dir() / "sglang-registrations.json").read_text())


def load_suites() -> dict:
    return json.loads((corpus_dir() / "sglang-suites.json").read_text())


_HEADER = [  # single-line statements only, so a marker may follow any of them
    "import json",
    "import os",
    "import unittest",
    "",
    "import requests",
    "",
    "from sglang.srt.utils import kill_process_tree",
    "from sglang.test.ci.ci_register import register_amd_ci, register_cpu_ci, register_cuda_ci",
    "from sglang.test.test_utils import CustomTestCase, popen_launch_server",
    "from sglang.test.test_utils import DEFAULT_MODEL_NAME_FOR_TEST, DEFAULT_URL_FOR_TEST",
    "from sglang.test.test_utils import DEFAULT_TIMEOUT_FOR_SERVER_LAUNCH",
]

_BODY = '''\
class TestFeature{n}(CustomTestCase):
    """Checks feature {n} end to end against a running server."""

    @classmethod
    def setUpClass(cls):
        cls.model = DEFAULT_MODEL_NAME_FOR_TEST
        cls.base_url = DEFAULT_URL_FOR_TEST
        cls.process = popen_launch_server(
            cls.model,
            cls.base_url,
            timeout=DEFAULT_TIMEOUT_FOR_SERVER_LAUNCH,
            other_args=["--mem-fraction-static", "0.7", "--tp", "1"],
        )

    @classmethod
    def tearDownClass(cls):
        kill_process_tree(cls.process.pid)

    def test_generate_{n}(self):
        # Send one request and check the shape of the answer (see #{n}).
        response = requests.post(
            f"{{self.base_url}}/generate",
            json={{"text": "The capital of France is", "sampling_params": {{"max_new_tokens": 8}}}},
        )
        self.assertEqual(response.status_code, 200, response.text)
        output = response.json()
        self.assertIn("text", output)
        metrics = {{k: v for k, v in output["meta_info"].items() if isinstance(v, (int, float))}}
        print(f"metrics={{metrics!r}} ({{len(metrics)}} keys)")

'''.splitlines()

_MAIN = ['if __name__ == "__main__":', "    unittest.main()"]


def render_call(call: dict) -> str:
    """`register_cuda_ci(est_time=60, stage='base-b', ...)` in the corpus's argument form."""
    parts = [repr(value) for value in call["args"]]
    parts += [f"{name}={value!r}" for name, value in call["kwargs"].items()]
    return f"{call['func']}({', '.join(parts)})"


def render_file(entry: dict) -> str:
    """One file's synthesized source, sized like the real one."""
    lines: list[str] = []
    for call in entry["calls"]:
        target = call["lineno"] - 1
        header = iter(_HEADER)
        while len(lines) < target:
            lines.append(next(header, ""))
        lines.append(render_call(call))
    tail = _MAIN if entry["has_main"] else []
    budget = max(entry["lines"] - len(tail) - 2, 0)
    lines += ["", ""]
    block = 0
    while budget - len(lines) >= len(_BODY):
        lines += [line.format(n=block) for line in _BODY]
        block += 1
    while len(lines) < budget:
        lines.append(f"EXPECTED_TOKENS_{len(lines)} = {{'prompt': {len(lines)}, 'mode': 'greedy'}}")
    if tail:
        lines += ["", *tail]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class SynthTree:
    root: Path
    entries: list[dict]

    @property
    def paths(self) -> list[Path]:
        return [self.root / entry["file"] for entry in self.entries]


def write_tree(root: Path, corpus: dict | None = None) -> SynthTree:
    """Write every corpus file under `root` (e.g. root/test/registered/...)."""
    corpus = corpus or load_corpus()
    for entry in corpus["files"]:
        path = root / entry["file"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_file(entry))
    return SynthTree(root, corpus["files"])

"""Build -> generated files: Python decides every value, jinja templates only lay them out.

- `outputs`: the registry of generated files and `render_outputs` (context -> template -> text)
- `jobs`: the per-commit and nightly jobs (shards, model tests, gates, needs, pools)
- `contexts`: one template context per output, the /rerun-test workflow's among them
- `templates`: the jinja environment and the `yaml` filter every value goes through
- `files`: where outputs go on disk, which generated files are stale, atomic writes
- `pins`: the third-party actions, pinned by commit
"""

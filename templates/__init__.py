"""The workflow templates, installed as the package `generator.templates` (see pyproject.toml)."""

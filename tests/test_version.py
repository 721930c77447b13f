"""cigen's version is defined once (generator/__init__.py): the package metadata, `cigen --version`
and the header of every shipped copy all name it."""

from __future__ import annotations

from importlib import metadata

from click.testing import CliRunner

from generator import __version__
from generator.cli import cli
from generator.render.shipping import copy_text


def test_the_installed_package_cigen_version_and_the_shipped_header_agree():
    assert metadata.version("cigen") == __version__
    assert CliRunner().invoke(cli, ["--version"]).output == f"cigen, version {__version__}\n"
    assert copy_text("run_shard", "make regen-workflows").splitlines()[1].startswith(f"# cigen {__version__}, ")

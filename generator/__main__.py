"""`python -m generator` is the same CLI as the `cigen` console script."""

from generator.cli import main

main()

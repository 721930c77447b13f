"""tree/ holds test files of a fixture repository, never tests of cigen: do not collect them."""

collect_ignore = ["tree"]

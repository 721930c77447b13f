"""What `generator.plan` builds on: the partitioner, stable re-planning, plan files and diffs."""

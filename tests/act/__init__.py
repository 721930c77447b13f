"""Execution tests: rendered workflows run in nektos/act (host mode, offline); see harness.py."""

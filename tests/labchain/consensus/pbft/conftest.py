"""PBFT tests: helpers live in ``pbftkit.py``; the Hypothesis ``ci`` profile is tests/conftest.py's."""

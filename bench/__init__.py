"""Benchmarks of the hot paths, each run side by side with what a user would otherwise use.

``python -m bench`` runs them all (see :mod:`bench.__main__`); each prints a table and
writes its numbers as JSON to ``bench/results/``.
"""

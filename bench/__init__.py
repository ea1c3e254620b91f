"""Benchmarks: ``python -m bench`` runs every ``bench/bench_*.py`` module's ``run()``.

Figures are printed and written to ``bench/REPORT.md``; they are never asserted (speed on a
shared 2-core machine is not a test). Each module returns a :class:`bench.common.Section`.
"""

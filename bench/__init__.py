"""Benchmarks: each writes its results to bench/results/; the README summarises them and
docs/performance.md keeps every run's record."""

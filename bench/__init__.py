"""Benchmarks: each writes its results to bench/results/ and is summarised in the README."""

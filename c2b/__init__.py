"""Composition root: settings, database engine, Temporal client, worker, API and CLI entry
points, demo data. The only package that may import every layer."""

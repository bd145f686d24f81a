"""Scheduling as pure functions: problem in, plan out. No database, no Temporal, no I/O."""

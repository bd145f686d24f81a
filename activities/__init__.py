"""Every side effect of the workflows: database reads and writes, solver calls."""

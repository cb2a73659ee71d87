"""The continuous loop: the drift monitor, one cycle's pipeline, the scheduler thread and its controls."""

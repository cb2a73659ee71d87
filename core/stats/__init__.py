"""Statistics on arrays: the drift tests and a version's evaluation."""

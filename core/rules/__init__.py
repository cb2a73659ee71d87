"""The loop's rules as pure functions: the retrain policy and a cycle's verdict in words."""

"""The vocabulary every layer speaks: the feature contract, a workspace's schema, validation, typed outcomes, ids."""

"""A serving-only process: it follows the registry's @champion and forwards its prediction log to the workbench."""

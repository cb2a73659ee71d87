"""Presentation helpers shared by the pages: the cached runtime, user-facing errors, charts."""

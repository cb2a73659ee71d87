"""The outside world besides the DuckDB store: MLflow, Discord, users' files."""

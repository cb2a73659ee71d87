"""The runtime fixtures for tests of this layer (tests/fixtures.py): pure layers' tests never build one."""

from tests.fixtures import mlflow_template, runtime, settings, trained_runtime  # noqa: F401

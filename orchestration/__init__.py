"""Driving the workbench's loop from an orchestrator (Prefect), through the API: in its own venv, not the app's."""

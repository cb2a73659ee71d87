"""The documented body of bad input on one field, written out here rather than taken from the code under test."""

from typing import Any


def refusal(field: str, error: str) -> dict[str, Any]:
    return {"error": error, "field": field, "error_id": None, "errors": [{"field": field, "error": error}]}

"""The benchmarks are run by hand, so nothing else notices when a move of our modules breaks one: importing each
here does (a benchmark's optional packages, nannyml or evidently, are imported inside the function that uses them)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks_to_import() -> None:
    assert {"bench_core", "bench_api", "bench_replay", "bench_policies"} <= set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert callable(getattr(module, "main", None)), f"benchmarks/{name}.py has no main()"

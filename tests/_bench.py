"""The benchmark scripts as modules for the tests (``benchmarks/`` is not a package), and the
text benchmark's independent fewest-digits oracle for the tests of the engine's readable
thresholds (written without the engine's rule: one copy, in benchmarks/text_tables.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str) -> ModuleType:
    """``benchmarks/<name>.py``, loaded once per test session."""
    key = f"{name}_bench_for_tests"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, ROOT / "benchmarks" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[key] = mod
        spec.loader.exec_module(mod)
    return sys.modules[key]


def fewest_digits(lo: float, hi: float, lo_open: bool = True) -> int:
    """The fewest significant digits of a float in (lo, hi] (or [lo, hi) with ``lo_open=False``)."""
    return load_benchmark("text_tables")._fewest_digits(lo, hi, upper=not lo_open)

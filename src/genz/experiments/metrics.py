"""The experiments' metrics live in :mod:`genz.metrics` (one home); re-exported here."""

from ..metrics import cosine_rows, mean_cosine, median_abs_error, median_relative_error, regression_metrics

__all__ = ["median_abs_error", "median_relative_error", "mean_cosine", "cosine_rows", "regression_metrics"]

"""The paper's experiments (docs/equations.md §7): splits, metrics, peer baselines, the zero-shot baseline
and the runner behind ``genz experiment``."""

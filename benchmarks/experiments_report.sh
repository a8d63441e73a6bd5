#!/usr/bin/env bash
# Regenerate the experiment numbers of README.md and docs/experiments.md.
#
#   bash benchmarks/experiments_report.sh HOUSES_DIR MOVIELENS_1M_DIR [OUT_DIR]
#
# Runs the reported seeds 0-4 ONCE with the current defaults (chosen beforehand on the
# development seeds 100-109, `--seeds dev`), writes every number as JSON and the tables as
# Markdown (paired per-seed differences against genz with 95% t-intervals; "tie" when the
# interval covers zero; nothing bolded), then prints the tables. Slow: about 1-2 minutes per
# seed and method on a 2-core machine.
set -euo pipefail
houses=${1:?usage: experiments_report.sh HOUSES_DIR MOVIELENS_1M_DIR [OUT_DIR]}
movies=${2:?usage: experiments_report.sh HOUSES_DIR MOVIELENS_1M_DIR [OUT_DIR]}
out=${3:-experiment-results}
mkdir -p "$out"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
genz experiment houses --data "$houses" --seeds report --model linear \
    --out "$out/houses_linear.json" --markdown "$out/houses_linear.md"
genz experiment movies --data "$movies" --format movielens-1m --seeds report \
    --out "$out/movies_linear.json" --markdown "$out/movies_linear.md"
genz experiment table "$out/houses_linear.json" "$out/movies_linear.json"

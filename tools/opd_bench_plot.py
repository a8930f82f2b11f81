#!/usr/bin/env python3
"""opd-bench-plot: the PNG plots of a paper suite, from the summary.json that
`opd-bench run|table` writes into the suite's results directory.

    .venv/bin/python tools/opd_bench_plot.py runs/paper/gopd_lambda_sweep

Writes, next to results.md:
  scores.png           the first score column (e.g. test/all avg@k) per row, mean and std over seeds;
  sweep.png            avg@k of the first split (overall and per domain) against the suite's sweep key
                       (e.g. objective.lambda), when it has one; dashed: the baselines' overall avg@k;
  curves_<metric>.png  each curve metric over training steps, one line per row (mean over seeds).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opd_plot import read_run, series  # noqa: E402


def mean_curve(run_dirs, metric):
    """Steps present in every seed's run, with the metric's mean over seeds."""
    per_seed = []
    for d in run_dirs:
        if os.path.exists(os.path.join(d, "metrics.jsonl")):
            steps, values = series(read_run(d), metric)
            per_seed.append(dict(zip(steps, values)))
    if not per_seed:
        return [], []
    steps = sorted(set.intersection(*(set(s) for s in per_seed)))
    return steps, [sum(s[t] for s in per_seed) / len(per_seed) for t in steps]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    path = os.path.join(out, "summary.json")
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"opd-bench-plot: error: {path}: {e}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("opd-bench-plot: error: needs matplotlib (tools/setup.sh installs it into .venv/: run .venv/bin/python tools/opd_bench_plot.py)")

    rows = summary["rows"]
    column = summary["columns"][0] if summary["columns"] else None
    written = []

    def save(fig, name):
        fig.tight_layout()
        p = os.path.join(out, name)
        fig.savefig(p)
        plt.close(fig)
        written.append(p)

    scored = [r for r in rows if r["mean"] and r["mean"][0] is not None]
    if column and scored:
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(scored) + 1.5), 3.4), dpi=100)
        names = [r["name"] + (" (as is)" if r["baseline"] else "") for r in scored]
        ax.bar(range(len(scored)), [r["mean"][0] for r in scored], yerr=[r["std"][0] or 0 for r in scored],
               color=["#999999" if r["baseline"] else "#3b6ea8" for r in scored], capsize=3)
        ax.set_xticks(range(len(scored)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(column, fontsize=8)
        ax.set_title(summary["title"], fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        save(fig, "scores.png")

    sweep = summary.get("sweep")
    if sweep and column:
        # One line per avg@k column of the first split (overall and each domain).
        split = column.split("/")[0]
        avg_columns = [i for i, c in enumerate(summary["columns"]) if c.startswith(split + "/") and " avg@" in c]
        trained = []
        for r in rows:
            try:
                trained.append((float(r["sweep_value"]), r))
            except ValueError:
                pass
        trained.sort(key=lambda t: t[0])
        if trained:
            fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=100)
            for i in avg_columns:
                points = [(x, r["mean"][i], r["std"][i] or 0) for x, r in trained if r["mean"][i] is not None]
                line = ax.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] for p in points],
                                   marker="o", capsize=3, label=summary["columns"][i])
                for r in scored:
                    if r["baseline"] and r["mean"][i] is not None and i == avg_columns[0]:
                        ax.axhline(r["mean"][i], linestyle="--", linewidth=0.8, color="#777777")
                        ax.annotate(r["name"], (trained[0][0], r["mean"][i]), fontsize=7, va="bottom")
            ax.set_xlabel(sweep, fontsize=8)
            ax.set_ylabel("avg@k", fontsize=8)
            ax.set_title(summary["title"], fontsize=8)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            save(fig, "sweep.png")

    for metric in summary.get("curves", []):
        fig, ax = plt.subplots(figsize=(5, 3.4), dpi=100)
        drawn = 0
        for r in rows:
            steps, values = mean_curve(r.get("run_dirs", []), metric)
            if steps:
                ax.plot(steps, values, label=r["name"], linewidth=1.2)
                drawn += 1
        if drawn:
            ax.set_xlabel("step", fontsize=8)
            ax.set_title(f"{metric} over training (mean over seeds)", fontsize=9)
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            save(fig, f"curves_{metric}.png")
        else:
            plt.close(fig)
    print(f"opd-bench-plot: {len(written)} plots in {out}")


if __name__ == "__main__":
    main()

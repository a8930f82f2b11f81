#!/usr/bin/env python3
"""opd-plot: PNG plots of the training diagnostics the papers show, from the
metrics.jsonl of one or more opd run directories (several runs are overlaid,
one line each, so methods can be compared).

    .venv/bin/python tools/opd_plot.py runs/tropd [runs/opd ...] [--out DIR] [--smooth 10]

Writes one PNG per diagnostic a run logged (student entropy, gradient norm,
KL estimates, trust ratio, prefix length, ...) and overview.png with all of
them, into DIR (default: <first run>/plots).
"""
import argparse
import json
import math
import os
import sys

# (metric, title) in the order the overview shows them; only those logged are drawn.
DIAGNOSTICS = [
    ("kl_k1", "reverse KL estimate k1 (s - tau)"),
    ("kl_k3", "reverse KL estimate k3"),
    ("kl_forward", "forward KL (full vocabulary)"),
    ("kl_reverse", "reverse KL (full vocabulary)"),
    ("student_entropy", "student entropy (nats)"),
    ("teacher_entropy", "teacher entropy (nats)"),
    ("grad_norm", "gradient norm (before clipping)"),
    ("trust_ratio", "trust ratio (TrOPD)"),
    ("outlier_fraction", "outlier fraction (TrOPD)"),
    ("clipped_fraction", "clipped fraction"),
    ("masked_fraction", "masked fraction"),
    ("selected_fraction", "entropy-selected fraction"),
    ("topk_mass", "teacher top-k mass covered"),
    ("prefix_length", "teacher prefix length (tokens)"),
    ("prefix_cap", "teacher prefix cap l_max"),
    ("response_length", "response length (tokens)"),
    ("teacher_logprob", "teacher log-prob of student tokens"),
    ("lr", "learning rate"),
    ("tokens_per_s", "tokens/s"),
    # Last, and said: the surrogate's sign and scale are the objective's (opd
    # about -65 where tropd is +3 on the same run), so only runs of one
    # objective compare on it; the KL panels compare across objectives.
    ("loss", "surrogate loss (scale and sign differ by objective)"),
]


def read_run(run_dir):
    path = os.path.join(run_dir, "metrics.jsonl")
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit(f"opd-plot: error: {path}:{number}: not JSON ({e.msg})")
    if not rows:
        sys.exit(f"opd-plot: error: {path} holds no steps")
    return rows


def series(rows, name):
    steps, values = [], []
    for row in rows:
        v = row.get(name)
        if isinstance(v, (int, float)) and math.isfinite(v):
            steps.append(row["step"])
            values.append(v)
    return steps, values


def smoothed(values, window):
    if window <= 1:
        return values
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories holding metrics.jsonl")
    parser.add_argument("--out", help="where the PNGs go (default: <first run>/plots)")
    parser.add_argument("--smooth", type=int, default=1, help="moving average over this many steps")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("opd-plot: error: needs matplotlib (tools/setup.sh installs it into .venv/: run .venv/bin/python tools/opd_plot.py)")

    runs = [(os.path.basename(os.path.normpath(r)) or r, read_run(r)) for r in args.runs]
    out = args.out or os.path.join(args.runs[0], "plots")
    os.makedirs(out, exist_ok=True)
    drawn = [(name, title) for name, title in DIAGNOSTICS if any(series(rows, name)[0] for _, rows in runs)]

    def draw(ax, name, title):
        for label, rows in runs:
            steps, values = series(rows, name)
            if steps:
                ax.plot(steps, smoothed(values, args.smooth), label=label, linewidth=1.2)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if len(runs) > 1:
            ax.legend(fontsize=7)

    written = []
    for name, title in drawn:
        fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
        draw(ax, name, title)
        fig.tight_layout()
        path = os.path.join(out, f"{name}.png")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    if drawn:
        cols = 3
        rows_n = (len(drawn) + cols - 1) // cols
        fig, axes = plt.subplots(rows_n, cols, figsize=(4.2 * cols, 2.8 * rows_n), dpi=100, squeeze=False)
        for ax, (name, title) in zip(axes.flat, drawn):
            draw(ax, name, title)
        for ax in list(axes.flat)[len(drawn):]:
            ax.axis("off")
        fig.tight_layout()
        path = os.path.join(out, "overview.png")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    print(f"opd-plot: {len(written)} plots in {out}")


if __name__ == "__main__":
    main()

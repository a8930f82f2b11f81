#!/usr/bin/env python3
"""Exact expected-gradient flows of OPD and TrOPD on one categorical context.

Issue 19 asks whether TrOPD's drift in the sampled runs is the method's or
the estimator's. This toy removes the estimator: one context, a student whose
parameters are its V logits z, a fixed teacher, and for each objective the
EXACT expectation over y ~ pi_S (and over the trust draw M) of the gradient
of its per-token surrogate, as DESIGN.md section 4 defines it:

  opd                 PG surrogate -sg(A) log pi_S(y), A = tau - s
  tropd_mask          trusted with probability p(y) = min(pi_T(y)/pi_S(y), 1):
                      the opd term weighted by p(y); outliers add nothing
  tropd_clip          + outliers (weight 1 - p(y)): PG with A = max(tau - s, floor)
  tropd_fkl           + outliers: the top-k forward KL
                      sum_{v in K} p_T,v (log p_T,v - log pi_S,v) (Eq. 7)
  tropd_fkl_renorm    + outliers: the same KL with both sides renormalised on K
  tropd_fkl_clipped   + outliers: the top-k FKL, no gradient above kl_clip nats

with tau = log pi_T(y), s = log pi_S(y). The expected PG gradient is
-sum_y pi_S(y) w(y) A(y) grad_z log pi_S(y); the outlier FKL does not depend
on y, so its expected weight is sum_y pi_S(y)(1 - p(y)) = TV(pi_S, pi_T).

It follows each flow by full-batch descent on z -- plain gradient descent
(lr 1) and Adam (lr 0.03; the real runs' optimiser) -- from three starts
(over-confident, too flat, confident on a token the teacher rejects) under
two teachers (top-16 covering 99 % / 82 % of the mass), and checks: the
expected gradients against a Monte Carlo average of the sampled per-token
gradients; issue 22's claim that the trust term's expected gradient is
-grad D_g, by finite differences of D_g; that the trust term has OPD's
Hessian at pi_S = pi_T; and, exactly, how many sampled tokens each
estimator needs before its noise is no larger than its mean.

    nice -n 19 .venv/bin/python benchmarks/toy_gradient_flow.py

prints the checks and a table, and writes benchmarks/results/paper/
toy_gradient_flow.png (--out). numpy and matplotlib; about a minute on one
core. benchmarks/results/paper/toy_gradient_flow.md reads the results.
"""
import argparse
import os
import time

import numpy as np

# ---------------------------------------------------------------- the cast


def log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def make_teacher(vocab, zipf_exponent, rng):
    """Zipf-shaped logits with a boosted head: a few likely tokens and a long
    tail, on randomly permuted ids (so the top-k is not tokens 0..k-1)."""
    rank = np.arange(1, vocab + 1)
    logits = -zipf_exponent * np.log(rank) + 0.3 * rng.standard_normal(vocab)
    logits[:3] += [2.0, 1.0, 0.5]
    return logits[rng.permutation(vocab)]


def make_starts(teacher_logits, rng):
    """The three student starts of issue 19, as logits."""
    vocab = teacher_logits.size
    noise = lambda scale: scale * rng.standard_normal(vocab)
    over_confident = 3.0 * teacher_logits + noise(0.5)  # the teacher's modes, sharpened
    too_flat = 0.1 * teacher_logits + noise(0.05)  # near uniform
    # Teacher-like elsewhere, but 95 % of the mass on the token the teacher
    # rejects most, so almost none is left on the teacher's top-k.
    wrong = teacher_logits.copy()
    rejected = int(np.argmin(teacher_logits))
    others = np.delete(wrong, rejected)
    log_rest = others.max() + np.log(np.exp(others - others.max()).sum())
    wrong[rejected] = log_rest + np.log(0.95 / 0.05)
    return {"over_confident": over_confident, "too_flat": too_flat, "wrong_token": wrong}


# ------------------------------------------------------- exact expectations


class Toy:
    """The teacher-side constants and the expected gradient of each objective."""

    def __init__(self, teacher_logits, top_k, clip_floor, kl_clip):
        self.tau = log_softmax(teacher_logits)
        self.p_teacher = np.exp(self.tau)
        self.topk = np.argsort(self.tau)[::-1][:top_k]
        self.in_topk = np.zeros(teacher_logits.size, bool)
        self.in_topk[self.topk] = True
        self.topk_mass = self.p_teacher[self.in_topk].sum()
        self.clip_floor = clip_floor
        self.kl_clip = kl_clip

    @staticmethod
    def pg_gradient(pi, weight, advantage):
        # E_y[-w A grad log pi(y)] with grad_z log pi(y) = e_y - pi.
        c = weight * advantage
        return -pi * (c - pi @ c)

    def trust_probability(self, s):
        return np.exp(np.minimum(self.tau - s, 0.0))

    def fkl(self, s):
        """Top-k forward KL (Eq. 7, not renormalised) and its gradient in z."""
        p = self.p_teacher * self.in_topk
        value = p[self.in_topk] @ (self.tau - s)[self.in_topk]
        return value, -p + p.sum() * np.exp(s)

    def fkl_renormalised(self, s):
        """Both sides renormalised on the top-k; the gradient stays on the k logits."""
        q_t = np.where(self.in_topk, self.p_teacher, 0.0) / self.topk_mass
        pi_k = np.where(self.in_topk, np.exp(s), 0.0)
        q_s = pi_k / pi_k.sum()
        k = self.in_topk
        value = q_t[k] @ (np.log(q_t[k]) - np.log(q_s[k]))
        return value, -(q_t - q_s)

    def gradient(self, objective, z):
        s = log_softmax(z)
        pi = np.exp(s)
        advantage = self.tau - s
        if objective == "opd":
            return self.pg_gradient(pi, 1.0, advantage)
        p = self.trust_probability(s)
        g = self.pg_gradient(pi, p, advantage)  # the trust term
        outlier_weight = pi @ (1.0 - p)  # = TV(pi_S, pi_T)
        if objective == "tropd_mask":
            return g
        if objective == "tropd_clip":
            return g + self.pg_gradient(pi, 1.0 - p, np.maximum(advantage, self.clip_floor))
        if objective == "tropd_fkl":
            return g + outlier_weight * self.fkl(s)[1]
        if objective == "tropd_fkl_renorm":
            return g + outlier_weight * self.fkl_renormalised(s)[1]
        if objective == "tropd_fkl_clipped":
            value, grad = self.fkl(s)
            # Above the cap the per-token loss is a constant: no gradient.
            return g + (outlier_weight * grad if value <= self.kl_clip else 0.0)
        raise ValueError(objective)

    def diagnostics(self, z):
        s = log_softmax(z)
        pi = np.exp(s)
        return {
            "rkl": pi @ (s - self.tau),
            "fkl": self.p_teacher @ (self.tau - s),
            "topk_mass": pi[self.in_topk].sum(),
        }


OBJECTIVES = ["opd", "tropd_mask", "tropd_clip", "tropd_fkl", "tropd_fkl_renorm", "tropd_fkl_clipped"]

# ----------------------------------------------------------------- checks


def d_g(toy, z, literal=False):
    """Issue 22's potential for the trust term. Per token, with u = pi_S/pi_T:
    pi_T f(u), f(u) = u log u - u + 1 below u = 1 (the per-token generalised
    RKL) and (log u)^2 / 2 above. literal=True drops the -u + 1 (so the part
    below 1 is RKL's own terms pi_S log u), to show that form is not it."""
    s = log_softmax(z)
    log_u = s - toy.tau
    u = np.exp(log_u)
    below = u * log_u if literal else u * log_u - u + 1.0
    return toy.p_teacher @ np.where(log_u < 0, below, 0.5 * log_u**2)


def finite_difference(fn, z, h=1e-5):
    grad = np.empty_like(z)
    for i in range(z.size):
        e = np.zeros_like(z)
        e[i] = h
        grad[i] = (fn(z + e) - fn(z - e)) / (2 * h)
    return grad


def monte_carlo_gradient(toy, objective, z, samples, rng):
    """The sampled estimator, averaged: y ~ pi_S, M ~ Bernoulli(p(y)), the
    gradient of each token's surrogate, with the same stop-gradients."""
    s = log_softmax(z)
    pi = np.exp(s)
    y = rng.choice(z.size, size=samples, p=pi)
    advantage = (toy.tau - s)[y]
    if objective == "opd":
        trusted = np.ones(samples, bool)
    else:
        trusted = rng.random(samples) < toy.trust_probability(s)[y]
    c = np.where(trusted, advantage, 0.0)  # per-sample PG coefficient
    fkl_count = 0.0
    if objective == "tropd_clip":
        c = c + np.where(trusted, 0.0, np.maximum(advantage, toy.clip_floor))
    if objective == "tropd_fkl":
        fkl_count = (~trusted).sum()
    # mean_i [-c_i (e_{y_i} - pi)] + (outliers / N) grad FKL
    grad = -(np.bincount(y, weights=c, minlength=z.size) - c.sum() * pi) / samples
    if fkl_count:
        grad = grad + fkl_count / samples * toy.fkl(s)[1]
    return grad


def run_checks(toy, starts, rng, mc_samples):
    probes = dict(starts)
    probes["random"] = 2.0 * rng.standard_normal(toy.tau.size)
    worst = {"D_g (issue 22's form)": 0.0, "D_g literal (pi_S log u below 1)": 0.0, "opd vs grad RKL": 0.0}
    scale = 0.0
    for z in probes.values():
        trust = toy.gradient("tropd_mask", z)
        scale = max(scale, np.abs(trust).max())
        worst["D_g (issue 22's form)"] = max(
            worst["D_g (issue 22's form)"], np.abs(finite_difference(lambda x: d_g(toy, x), z) - trust).max())
        worst["D_g literal (pi_S log u below 1)"] = max(
            worst["D_g literal (pi_S log u below 1)"],
            np.abs(finite_difference(lambda x: d_g(toy, x, literal=True), z) - trust).max())
        rkl = lambda x: toy.diagnostics(x)["rkl"]
        worst["opd vs grad RKL"] = max(
            worst["opd vs grad RKL"], np.abs(finite_difference(rkl, z) - toy.gradient("opd", z)).max())
    # Issue 22: at pi_S = pi_T the trust term has OPD's Hessian (f''(1) = 1 on
    # both branches), so near the fixed point the two flows are the same.
    at_teacher = toy.tau.copy()
    jacobian = lambda obj: np.stack([finite_difference(lambda x: toy.gradient(obj, x)[i], at_teacher)
                                     for i in range(0, toy.tau.size, 8)])
    worst["Hessian trust vs opd at pi_T"] = np.abs(jacobian("tropd_mask") - jacobian("opd")).max()
    mc = {}
    for objective in ["opd", "tropd_mask", "tropd_clip", "tropd_fkl"]:
        z = probes["too_flat"]
        exact = toy.gradient(objective, z)
        mc[objective] = np.abs(monte_carlo_gradient(toy, objective, z, mc_samples, rng) - exact).max()
    return worst, scale, mc


def tokens_for_unit_snr(toy, objective, z):
    """Exact per-token noise of the sampled estimator against its mean:
    tr Cov[g_token] / |E g|^2, the number of independent tokens whose mean
    gradient has as much noise as signal (a batch of N has noise/signal
    ratio this / N)."""
    s = log_softmax(z)
    pi = np.exp(s)
    advantage = toy.tau - s
    basis_norm2 = 1.0 - 2.0 * pi + pi @ pi  # |e_y - pi|^2 for each y
    p = np.ones_like(pi) if objective == "opd" else toy.trust_probability(s)
    second = pi * p * advantage**2 * basis_norm2  # trusted draws
    if objective == "tropd_clip":
        second = second + pi * (1 - p) * np.maximum(advantage, toy.clip_floor) ** 2 * basis_norm2
    if objective == "tropd_fkl":
        second = second + pi * (1 - p) * np.sum(toy.fkl(s)[1] ** 2)
    mean = toy.gradient(objective, z)
    return (second.sum() - mean @ mean) / (mean @ mean)


# ------------------------------------------------------------------ flows


def follow(toy, objective, z0, steps, lr, stop_below, optimizer="gd", beta2=0.999):
    """Full-batch descent on the logits: plain gradient descent, or Adam (the
    optimiser the real runs use; its per-coordinate scaling removes the
    factor pi_S(v) that makes plain descent slow on rare tokens)."""
    z = z0.copy()
    m, v = np.zeros_like(z), np.zeros_like(z)
    beta1, eps = 0.9, 1e-30  # eps ~0: rare tokens' gradients are ~1e-18
    curve = {"rkl": [], "fkl": [], "topk_mass": []}
    for step in range(1, steps + 2):
        d = toy.diagnostics(z)
        for key in curve:
            curve[key].append(d[key])
        if d["rkl"] < stop_below:  # converged for good; keeps the run short
            break
        g = toy.gradient(objective, z)
        if optimizer == "adam":
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            g = (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + eps)
        z = z - lr * g
    return {k: np.array(v) for k, v in curve.items()}


def first_step_below(curve, threshold):
    below = np.nonzero(curve < threshold)[0]
    return int(below[0]) if below.size else None


STARTS = ["over_confident", "too_flat", "wrong_token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", type=int, default=256)
    parser.add_argument("--top-k", type=int, default=16)
    parser.add_argument("--steps", type=int, default=50000, help="descent steps per flow (at most)")
    parser.add_argument("--gd-lr", type=float, default=1.0, help="plain gradient descent's step on the logits")
    parser.add_argument("--adam-lr", type=float, default=0.03)
    parser.add_argument("--adam-beta2", type=float, default=0.999)
    parser.add_argument("--optimizers", default="gd,adam", help="comma-separated: gd, adam")
    parser.add_argument("--clip-floor", type=float, default=-1.6, help="tropd_clip's advantage floor")
    parser.add_argument("--kl-clip", type=float, default=2.0, help="tropd_fkl_clipped's cap (nats)")
    parser.add_argument("--threshold", type=float, default=1e-4, help="'reached' = KL(pi_S||pi_T) below this")
    parser.add_argument("--mc-samples", type=int, default=400000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results/paper/toy_gradient_flow.png"))
    args = parser.parse_args()
    started = time.time()
    rng = np.random.default_rng(args.seed)
    optimizers = {o: {"gd": args.gd_lr, "adam": args.adam_lr}[o] for o in args.optimizers.split(",")}

    # Two teachers: the top-k nearly covers the mass / leaves a fifth of it out.
    teachers = {"peaked": 2.0, "long_tail": 1.0}
    results, topk_target = {}, {}
    for name, exponent in teachers.items():
        toy = Toy(make_teacher(args.vocab, exponent, rng), args.top_k, args.clip_floor, args.kl_clip)
        topk_target[name] = toy.topk_mass
        starts = make_starts(np.log(toy.p_teacher), rng)
        print(f"teacher {name}: top-{args.top_k} mass {toy.topk_mass:.3f}, max p {toy.p_teacher.max():.3f}, "
              f"min p {toy.p_teacher.min():.1e}")
        for start, z0 in starts.items():
            d = toy.diagnostics(z0)
            print(f"  start {start:15s} RKL {d['rkl']:7.3f}  FKL {d['fkl']:7.3f}  top-k mass {d['topk_mass']:.3f}")

        worst, scale, mc = run_checks(toy, starts, rng, args.mc_samples)
        print(f"  check: max |finite-difference grad - expected trust grad| over 4 points (grad scale {scale:.2e}):")
        for label, err in worst.items():
            print(f"    {label:34s} {err:.2e}")
        print(f"  check: max |Monte Carlo ({args.mc_samples} tokens) - exact expected grad| at the flat start "
              f"(noise ~1/sqrt(N) = {1 / np.sqrt(args.mc_samples):.1e}):")
        print("    " + "  ".join(f"{k} {v:.1e}" for k, v in mc.items()))

        # Is a flow's pull strong enough to beat the sampling noise of its
        # estimator? At each start and near the teacher (log u ~ N(0, 0.1)).
        probes = dict(starts, near_teacher=toy.tau + 0.1 * rng.standard_normal(toy.tau.size))
        print("  tokens per step for noise = signal (tr Cov / |E g|^2 of one token's gradient):")
        for probe, z in probes.items():
            print(f"    {probe:15s} " + "  ".join(
                f"{o} {tokens_for_unit_snr(toy, o, z):8.1f}" for o in ["opd", "tropd_mask", "tropd_clip", "tropd_fkl"]))

        # The paper says the outlier FKL vanishes when the student has no mass
        # on the teacher's top-k; its value grows as -log(mass) and its logit
        # gradient tends to -p_T on the top-k, which does not vanish.
        rejected = int(np.argmin(toy.tau))
        row = []
        for mass_on_rejected in [0.9, 0.999, 0.999999]:
            z = toy.tau.copy()
            z[rejected] = np.log(mass_on_rejected / (1 - mass_on_rejected) * (1 - toy.p_teacher[rejected]))
            value, grad = toy.fkl(log_softmax(z))
            row.append(f"top-k mass {toy.diagnostics(z)['topk_mass']:.0e}: FKL {value:5.1f}, |grad| {np.linalg.norm(grad):.3f}")
        print("  outlier FKL as the student leaves the top-k: " + "; ".join(row))

        for optimizer, lr in optimizers.items():
            for start, z0 in starts.items():
                for objective in OBJECTIVES:
                    results[(optimizer, name, start, objective)] = follow(
                        toy, objective, z0, args.steps, lr, args.threshold / 1000, optimizer, args.adam_beta2)

    print_table(results, teachers, optimizers, topk_target, args)
    plot(results, teachers, optimizers, args)
    print(f"wrote {args.out}; {time.time() - started:.0f} s")


def print_table(results, teachers, optimizers, topk_target, args):
    thr = args.threshold
    print(f"\nsteps until KL(pi_S||pi_T) < {thr:g} (x OPD's steps), or 'no' and the RKL after {args.steps} steps; "
          "^r = RKL rose r nats above its running minimum on the way")
    short = {"opd": "opd", "tropd_mask": "mask", "tropd_clip": "clip", "tropd_fkl": "fkl",
             "tropd_fkl_renorm": "fkl_renorm", "tropd_fkl_clipped": "fkl_clipped"}
    header = f"{'opt':4s} {'teacher':9s} {'start':14s} " + " ".join(f"{short[o]:>16s}" for o in OBJECTIVES)
    print(header)
    print("-" * len(header))
    for optimizer, lr in optimizers.items():
        for teacher in teachers:
            for start in STARTS:
                opd_steps = first_step_below(results[(optimizer, teacher, start, "opd")]["rkl"], thr)
                cells = []
                for objective in OBJECTIVES:
                    c = results[(optimizer, teacher, start, objective)]
                    n = first_step_below(c["rkl"], thr)
                    if n is None:
                        cell = f"no {c['rkl'][-1]:.1e}"
                    elif objective == "opd" or not opd_steps:
                        cell = f"{n}"
                    else:
                        cell = f"{n} ({n / opd_steps:.1f}x)"
                    # How far (nats) RKL climbed back above its running minimum:
                    # where a term pulls the student away from the teacher.
                    rebound = (c["rkl"] - np.minimum.accumulate(c["rkl"])).max()
                    if rebound > 1e-3:
                        cell += f" ^{rebound:.1g}"
                    cells.append(f"{cell:>16s}")
                print(f"{optimizer:4s} {teacher:9s} {start:14s} " + " ".join(cells))
    print("teacher top-k mass: " + ", ".join(f"{t} {m:.3f}" for t, m in topk_target.items())
          + "; lr: " + ", ".join(f"{o} {lr:g}" for o, lr in optimizers.items())
          + (f"; Adam betas (0.9, {args.adam_beta2:g})" if "adam" in optimizers else ""))


def plot(results, teachers, optimizers, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(o, t) for o in optimizers for t in teachers]
    fig, axes = plt.subplots(len(rows), len(STARTS), figsize=(15, 3.8 * len(rows)), squeeze=False)
    colors = dict(zip(OBJECTIVES, ["black", "tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple"]))
    for row, (optimizer, teacher) in enumerate(rows):
        for col, start in enumerate(STARTS):
            ax = axes[row][col]
            for objective in OBJECTIVES:
                c = results[(optimizer, teacher, start, objective)]
                steps = np.arange(1, c["rkl"].size + 1)
                ax.loglog(steps, np.maximum(c["rkl"], 1e-12), color=colors[objective], label=objective)
                ax.loglog(steps, np.maximum(c["fkl"], 1e-12), color=colors[objective], ls=":", lw=1)
            ax.axhline(args.threshold, color="grey", lw=0.5)
            ax.set_title(f"{optimizer} lr {optimizers[optimizer]:g}: {teacher} teacher, {start} start", fontsize=9)
            ax.set_ylim(1e-7, 1e2)
            if row == len(rows) - 1:
                ax.set_xlabel("descent step")
            if col == 0:
                ax.set_ylabel("RKL solid, FKL dotted")
    axes[0][0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"Exact expected-gradient flows on one context, V={args.vocab}, top-k={args.top_k}")
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=100)


if __name__ == "__main__":
    main()

"""Check the derivations of the study notes numerically, with the standard library only.

Each check recomputes a result that notes/n0.md or notes/n1.md derives by hand: exactly where
the result is a finite computation (a recursion, a sum over all states, a schedule), and by
Monte Carlo or quadrature where it is an expectation or an integral. Random draws come from
generators with fixed seeds, so the output is the same on every run and machine.

Usage::

    python scripts/check_derivations.py

It prints one line per check (``ok`` or ``FAIL``, the check's name and the figures it found)
and exits with status 1 if any check fails.
"""

from __future__ import annotations

import itertools
import math
import random
import sys
from collections.abc import Callable, Sequence

T = 1000
BETA_1, BETA_T = 1e-4, 0.02


class Failed(Exception):
    """A computed figure disagrees with the note's formula."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def close(a: float, b: float, tol: float, what: str) -> None:
    expect(abs(a - b) <= tol, f"{what}: {a!r} vs {b!r} (tolerance {tol})")


# --------------------------------------------------------------------------
# The linear schedule of Ho et al.
# --------------------------------------------------------------------------


def betas() -> list[float]:
    """beta_1..beta_T at list indices 1..T (index 0 unused)."""
    return [0.0] + [BETA_1 + (BETA_T - BETA_1) * (t - 1) / (T - 1) for t in range(1, T + 1)]


def alpha_bars(beta: Sequence[float]) -> list[float]:
    """alpha_bar_0 = 1, ..., alpha_bar_T."""
    values = [1.0]
    for t in range(1, len(beta)):
        values.append(values[-1] * (1.0 - beta[t]))
    return values


def check_lambda() -> str:
    """n1, the simplified objective: the weight lambda_t that L_simple drops, with sigma_t^2 = beta_t."""
    beta = betas()
    ab = alpha_bars(beta)
    lam = [0.0] + [beta[t] / (2 * (1 - beta[t]) * (1 - ab[t])) for t in range(1, T + 1)]
    t_min = min(range(1, T + 1), key=lambda t: lam[t])
    close(lam[1], 1 / (2 * (1 - BETA_1)), 1e-12, "lambda_1 = 1/(2 alpha_1)")
    expect(all(lam[t + 1] < lam[t] for t in range(1, t_min)), "lambda_t falls before its minimum")
    expect(all(lam[t + 1] > lam[t] for t in range(t_min, T)), "lambda_t rises after its minimum")
    expect(ab[T] < 5e-5, "alpha_bar_T is about 4e-5")
    # With sigma_t^2 = beta_tilde_t the weight is beta_t / (2 alpha_t (1 - alpha_bar_{t-1})), t >= 2.
    tilde = [0.0, 0.0] + [beta[t] / (2 * (1 - beta[t]) * (1 - ab[t - 1])) for t in range(2, T + 1)]
    t_tilde = min(range(2, T + 1), key=lambda t: tilde[t])
    return (
        f"lambda_1 = {lam[1]:.4f}, minimum {lam[t_min]:.4f} at t = {t_min}, "
        f"lambda_T = {lam[T]:.4f}, lambda_1/min = {lam[1] / lam[t_min]:.0f}, alpha_bar_T = {ab[T]:.1e}; "
        f"with beta_tilde: {tilde[2]:.2f} at t = 2, minimum {tilde[t_tilde]:.4f} at t = {t_tilde}, "
        f"{tilde[T]:.4f} at t = T"
    )


def check_posterior_and_ddim() -> str:
    """n1, the forward posterior and fewer steps.

    Posterior coefficients, and DDIM's update reproducing DDPM's posterior.
    """
    beta = betas()
    ab = alpha_bars(beta)
    worst = 0.0
    for t in range(2, T + 1):
        alpha = 1 - beta[t]
        c0 = math.sqrt(ab[t - 1]) * beta[t] / (1 - ab[t])
        ct = math.sqrt(alpha) * (1 - ab[t - 1]) / (1 - ab[t])
        beta_tilde = (1 - ab[t - 1]) / (1 - ab[t]) * beta[t]
        expect(0 < beta_tilde < beta[t], f"0 < beta_tilde < beta at t = {t}")
        # mu_tilde(x_t, x_0) with x_t = sqrt(ab_t) x_0 + sqrt(1 - ab_t) eps, written in x_0 and eps,
        # against DDIM's sqrt(ab_{t-1}) x_0 + sqrt(1 - ab_{t-1} - sigma^2) eps with sigma^2 = beta_tilde.
        worst = max(
            worst,
            abs(c0 + ct * math.sqrt(ab[t]) - math.sqrt(ab[t - 1])),
            abs(ct * math.sqrt(1 - ab[t]) - math.sqrt(1 - ab[t - 1] - beta_tilde)),
        )
        # DDIM's sigma for the step t -> t-1 at eta = 1 is DDPM's beta_tilde.
        sigma2 = (1 - ab[t - 1]) / (1 - ab[t]) * (1 - ab[t] / ab[t - 1])
        worst = max(worst, abs(sigma2 - beta_tilde))
    expect(worst < 1e-12, f"posterior and DDIM coefficients agree (worst {worst:.1e})")
    # The DDIM step keeps the marginal q(x_s | x_0), here for a jump of 100 steps, by Monte Carlo.
    rng = random.Random(1)
    x0, t, s, n = 0.7, 600, 500, 40_000
    sigma = 0.5 * math.sqrt(1 - ab[s])
    draws = []
    for _ in range(n):
        eps = rng.gauss(0, 1)
        xt = math.sqrt(ab[t]) * x0 + math.sqrt(1 - ab[t]) * eps
        eps_hat = (xt - math.sqrt(ab[t]) * x0) / math.sqrt(1 - ab[t])
        draws.append(
            math.sqrt(ab[s]) * x0 + math.sqrt(1 - ab[s] - sigma**2) * eps_hat + sigma * rng.gauss(0, 1)
        )
    mean = sum(draws) / n
    var = sum((d - mean) ** 2 for d in draws) / (n - 1)
    close(mean, math.sqrt(ab[s]) * x0, 4 * math.sqrt(1 / n), "DDIM step mean")
    close(var, 1 - ab[s], 0.03 * (1 - ab[s]), "DDIM step variance")
    return (
        f"all t: worst coefficient gap {worst:.0e}; DDIM jump 600->500: mean {mean:.4f}, variance {var:.4f}"
    )


# --------------------------------------------------------------------------
# Gaussians, KL, entropy
# --------------------------------------------------------------------------


def check_gaussian_affine() -> str:
    """n1, Gaussian lemmas: a X + b is Gaussian with mean a mu + b and variance a^2 s^2 (Monte Carlo)."""
    rng = random.Random(2)
    mu, s, a, b, n = 1.5, 0.8, -2.0, 0.3, 40_000
    ys = [a * rng.gauss(mu, s) + b for _ in range(n)]
    mean = sum(ys) / n
    var = sum((y - mean) ** 2 for y in ys) / (n - 1)
    fourth = sum((y - mean) ** 4 for y in ys) / n / var**2  # 3 for a Gaussian
    close(mean, a * mu + b, 4 * abs(a) * s / math.sqrt(n), "mean of aX+b")
    close(var, a * a * s * s, 0.03 * a * a * s * s, "variance of aX+b")
    close(fourth, 3.0, 0.1, "kurtosis of aX+b")
    return (
        f"mean {mean:.3f} (exact {a * mu + b}), variance {var:.3f} (exact {a * a * s * s:.3f}), "
        f"kurtosis {fourth:.2f}"
    )


def check_gaussian_kl() -> str:
    """n1, KL between two Gaussians.

    The KL between two isotropic Gaussians, against a Monte Carlo average of the log-ratio.
    """
    rng = random.Random(3)
    d, n = 3, 60_000
    mu1, mu2, s1, s2 = [0.2, -0.5, 1.0], [1.0, 0.0, 0.4], 0.7, 1.3
    gap = sum((a - b) ** 2 for a, b in zip(mu1, mu2, strict=True))
    exact = 0.5 * (d * s1**2 / s2**2 - d + d * math.log(s2**2 / s1**2) + gap / s2**2)
    total = 0.0
    for _ in range(n):
        x = [m + s1 * rng.gauss(0, 1) for m in mu1]
        r1 = sum((xi - m) ** 2 for xi, m in zip(x, mu1, strict=True))
        r2 = sum((xi - m) ** 2 for xi, m in zip(x, mu2, strict=True))
        total += d / 2 * math.log(s2**2 / s1**2) - r1 / (2 * s1**2) + r2 / (2 * s2**2)
    estimate = total / n
    close(estimate, exact, 0.02, "Gaussian KL")
    # n0, the ELBO: the closed form against N(0, I), coordinate by coordinate.
    mu, sig = [0.3, -1.2], [0.5, 1.7]
    per_coord = 0.5 * sum(m * m + v * v - 1 - math.log(v * v) for m, v in zip(mu, sig, strict=True))
    general = sum(0.5 * (v * v - 1 - math.log(v * v) + m * m) for m, v in zip(mu, sig, strict=True))
    close(per_coord, general, 1e-12, "VAE KL term")
    return f"d = 3: formula {exact:.4f}, Monte Carlo {estimate:.4f}"


def check_gibbs() -> str:
    """n0, the KL primer.

    Cross-entropy = entropy + KL, KL >= 0 with equality only at p = q (random distributions).
    """
    rng = random.Random(4)
    smallest = math.inf
    for _ in range(2000):
        k = rng.randint(2, 8)
        p = [rng.random() + 1e-3 for _ in range(k)]
        q = [rng.random() + 1e-3 for _ in range(k)]
        p = [v / sum(p) for v in p]
        q = [v / sum(q) for v in q]
        entropy = -sum(v * math.log(v) for v in p)
        cross = -sum(a * math.log(b) for a, b in zip(p, q, strict=True))
        kl = sum(a * math.log(a / b) for a, b in zip(p, q, strict=True))
        close(cross, entropy + kl, 1e-12, "H(p, q) = H(p) + KL(p || q)")
        bound = sum(a * (b / a - 1) for a, b in zip(p, q, strict=True))  # log u <= u - 1
        expect(-kl <= bound + 1e-15, "-KL <= sum p (q/p - 1) = 0")
        smallest = min(smallest, kl)
    expect(smallest > 0, "KL > 0 for p != q")
    return f"2000 random pairs: H(p,q) = H(p) + KL, smallest KL {smallest:.1e} > 0"


def check_inception_score_bounds() -> str:
    """n0, Inception Score: 1 <= IS <= K, with both ends attained."""
    rng = random.Random(5)
    k = 10

    def score(rows: list[list[float]]) -> float:
        marginal = [sum(r[j] for r in rows) / len(rows) for j in range(k)]
        mean_kl = sum(
            sum(a * math.log(a / m) for a, m in zip(r, marginal, strict=True) if a > 0) for r in rows
        ) / len(rows)
        return math.exp(mean_kl)

    values = []
    for _ in range(200):
        rows = [[rng.random() ** 4 for _ in range(k)] for _ in range(20)]
        values.append(score([[v / sum(r) for v in r] for r in rows]))
    expect(all(1 <= v <= k for v in values), "IS within [1, K]")
    same = score([[0.3, 0.7] + [0.0] * (k - 2)] * 5)
    sharp = score([[1.0 if j == i else 0.0 for j in range(k)] for i in range(k)])
    close(same, 1.0, 1e-12, "IS of identical predictions")
    close(sharp, k, 1e-9, "IS of confident predictions spread over all classes")
    return (
        f"random classifiers: IS in [{min(values):.2f}, {max(values):.2f}]; ends 1 and {sharp:.0f} attained"
    )


# --------------------------------------------------------------------------
# Scores, Tweedie and Langevin
# --------------------------------------------------------------------------


def check_tweedie() -> str:
    """n1, Tweedie's formula: E[x_0 | x_t] = (x_t + (1 - ab) score) / sqrt(ab), for data on {-1, +1}."""
    ab = 0.3
    a, v = math.sqrt(ab), 1 - ab

    def log_q(x: float) -> float:  # the noisy marginal, a two-component mixture
        return math.log(0.5 * math.exp(-((x - a) ** 2) / (2 * v)) + 0.5 * math.exp(-((x + a) ** 2) / (2 * v)))

    worst = 0.0
    for i in range(-30, 31):
        x = i / 10
        h = 1e-5
        score = (log_q(x + h) - log_q(x - h)) / (2 * h)
        posterior_mean = math.tanh(a * x / v)  # exact: P(x_0 = 1 | x_t) - P(x_0 = -1 | x_t)
        worst = max(worst, abs((x + v * score) / a - posterior_mean))
    expect(worst < 1e-6, f"Tweedie's formula (worst {worst:.1e})")
    # Monte Carlo: average x_0 over draws whose x_t falls in a narrow bin.
    rng = random.Random(6)
    centre, width, hits, total = 0.8, 0.05, 0, 0.0
    for _ in range(100_000):
        x0 = 1.0 if rng.random() < 0.5 else -1.0
        xt = a * x0 + math.sqrt(v) * rng.gauss(0, 1)
        if abs(xt - centre) < width / 2:
            hits += 1
            total += x0
    close(total / hits, math.tanh(a * centre / v), 0.05, "Monte Carlo posterior mean")
    return (
        f"formula vs exact posterior mean: worst {worst:.0e}; "
        f"Monte Carlo at x_t = 0.8: {total / hits:.3f} vs {math.tanh(a * centre / v):.3f}"
    )


def check_langevin() -> str:
    """n0 and n1, Langevin dynamics.

    The variance a Langevin chain settles at; DDPM's step against Langevin's.
    """
    s2, eta = 2.0, 1.0
    # x' = x + (eta/2)(-x/s2) + sqrt(eta) z on the target N(0, s2): iterate the variance exactly.
    v = 0.0
    for _ in range(2000):
        v = (1 - eta / (2 * s2)) ** 2 * v + eta
    close(v, s2 / (1 - eta / (4 * s2)), 1e-9, "stationary variance of the Langevin chain")
    rng = random.Random(7)
    x, acc, n = 0.0, 0.0, 100_000
    for k in range(n + 500):
        x += eta / 2 * (-x / s2) + math.sqrt(eta) * rng.gauss(0, 1)
        if k >= 500:
            acc += x * x
    close(acc / n, v, 0.06, "Monte Carlo variance of the Langevin chain")
    expect(abs(acc / n - s2) > 0.15, "a finite step biases the variance away from s^2")
    # Ancestral sampling with the exact score of Gaussian data N(0, v0): variance after all T steps.
    beta = betas()
    ab = alpha_bars(beta)
    v0 = 0.25

    def final_variance(noise: Callable[[int], float]) -> float:
        var = 1.0  # x_T ~ N(0, 1)
        for t in range(T, 0, -1):
            vt = ab[t] * v0 + 1 - ab[t]
            gain = (1 - beta[t] / vt) / math.sqrt(1 - beta[t])  # (x + beta * (-x / vt)) / sqrt(alpha)
            var = gain**2 * var + (noise(t) if t > 1 else 0.0)
        return var

    beta_tilde = [0.0] + [(1 - ab[t - 1]) / (1 - ab[t]) * beta[t] for t in range(1, T + 1)]
    ddpm = final_variance(lambda t: beta[t])
    ddpm_tilde = final_variance(lambda t: beta_tilde[t])
    doubled = final_variance(lambda t: 2 * beta[t])
    close(ddpm, v0, 0.01, "DDPM sampler, sigma^2 = beta")
    close(ddpm_tilde, v0, 0.01, "DDPM sampler, sigma^2 = beta_tilde")
    expect(doubled > 1.5 * v0, "Langevin-sized noise 2 beta overshoots the data variance")
    return (
        f"Langevin on N(0, 2), eta = 1: variance {v:.4f} = s^2/(1 - eta/(4 s^2)), Monte Carlo {acc / n:.3f}; "
        f"DDPM sampler on N(0, 0.25) data ends at variance {ddpm:.4f} (beta), {ddpm_tilde:.4f} (beta_tilde), "
        f"{doubled:.4f} with noise 2 beta"
    )


# --------------------------------------------------------------------------
# n0: flows as a limit of VAEs, Wasserstein, dequantisation, GAN optimum
# --------------------------------------------------------------------------


def _normal(x: float, mean: float = 0.0, var: float = 1.0) -> float:
    return math.exp(-((x - mean) ** 2) / (2 * var)) / math.sqrt(2 * math.pi * var)


def check_flow_limit() -> str:
    """n0, how the families relate.

    A Gaussian decoder N(f(z), sigma^2) tends to the flow's density as sigma -> 0.
    """

    def f(z: float) -> float:
        return z + 0.5 * math.tanh(z)

    def f_inverse(x: float) -> float:
        lo, hi = -20.0, 20.0
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) < x else (lo, mid)
        return (lo + hi) / 2

    def flow_density(x: float) -> float:
        z = f_inverse(x)
        return _normal(z) / (1 + 0.5 / math.cosh(z) ** 2)

    def vae_density(x: float, sigma: float) -> float:
        step = sigma / 20
        grid = [f_inverse(x) - 10 * sigma + k * step for k in range(401)]
        values = [_normal(x, f(z), sigma * sigma) * _normal(z) for z in grid]
        return step * (sum(values) - (values[0] + values[-1]) / 2)

    xs = [-2.0, -0.5, 0.3, 1.7]
    errors = []
    for sigma in (0.3, 0.1, 0.03, 0.01):
        errors.append(max(abs(vae_density(x, sigma) - flow_density(x)) for x in xs))
    expect(all(b < a for a, b in itertools.pairwise(errors)), "the gap shrinks with sigma")
    expect(errors[-1] < 1e-4, "the gap vanishes")
    return "max |p_sigma(x) - p_flow(x)| for sigma = 0.3, 0.1, 0.03, 0.01: " + ", ".join(
        f"{e:.1e}" for e in errors
    )


def check_wasserstein() -> str:
    """n0, the Wasserstein distance: W1 in one dimension, the dual, and JSD stuck at log 2."""
    rng = random.Random(8)
    n = 4000
    xs = sorted(rng.gauss(0, 1) for _ in range(n))
    ys = sorted(rng.gauss(0, 2) for _ in range(n))
    primal = sum(abs(a - b) for a, b in zip(xs, ys, strict=True)) / n  # the sorted (monotone) coupling
    # The same number as the area between the two empirical distribution functions.
    points = sorted(set(xs) | set(ys))
    area, i, j = 0.0, 0, 0
    for left, right in itertools.pairwise(points):
        while i < n and xs[i] <= left:
            i += 1
        while j < n and ys[j] <= left:
            j += 1
        area += abs(i - j) / n * (right - left)
    close(primal, area, 1e-9, "W1 by coupling and by distribution functions")
    # Dual: any 1-Lipschitz critic gives a lower bound; f(x) = x sees nothing (equal means),
    # f(x) = |x| attains W1 here, since the optimal coupling y = 2x never changes sign.
    linear = abs(sum(ys) - sum(xs)) / n
    folded = (sum(abs(y) for y in ys) - sum(abs(x) for x in xs)) / n
    expect(linear <= primal and folded <= primal + 1e-12, "1-Lipschitz critics bound W1 from below")
    close(folded, primal, 0.05, "the critic |x| is (nearly) optimal")
    close(primal, math.sqrt(2 / math.pi), 0.05, "W1(N(0,1), N(0,4)) = E|X|")

    def jsd_of_point_masses(theta: float) -> float:
        return 0.0 if theta == 0 else math.log(2)  # disjoint supports: each KL to the mixture is log 2

    expect(jsd_of_point_masses(0.01) == jsd_of_point_masses(5.0) == math.log(2), "JSD constant")
    return (
        f"N(0,1) vs N(0,4), 4000 draws each: W1 = {primal:.4f} both ways "
        f"(exact {math.sqrt(2 / math.pi):.4f}); "
        f"critic x gives {linear:.4f}, critic |x| gives {folded:.4f}"
    )


def check_dequantisation() -> str:
    """n0, bits per dimension.

    E_u log p(x + u) <= log P(x) for uniform dequantisation (Jensen), bin by bin.
    """
    mean, var = 120.0, 40.0**2

    def density(y: float) -> float:
        return _normal(y, mean, var)

    gaps = []
    for x in range(0, 256, 5):
        cells = [x + (k + 0.5) / 200 for k in range(200)]
        mass = sum(density(c) for c in cells) / 200  # integral of p over [x, x + 1)
        mean_log = sum(math.log(density(c)) for c in cells) / 200
        expect(mean_log <= math.log(mass) + 1e-15, f"Jensen at x = {x}")
        gaps.append(math.log(mass) - mean_log)
    return f"51 bins: 0 <= log P(x) - E_u log p(x+u) <= {max(gaps):.1e}"


def check_gan_optimum() -> str:
    """n0, the optimal discriminator and JSD.

    Argmax of a log y + b log(1 - y) is a/(a+b); C(G) = -log 4 + 2 JSD.
    """
    rng = random.Random(9)
    for _ in range(50):
        a, b = rng.uniform(0.01, 3), rng.uniform(0.01, 3)
        best = max((k / 2000 for k in range(1, 2000)), key=lambda y: a * math.log(y) + b * math.log(1 - y))
        close(best, a / (a + b), 5e-4, "pointwise optimal discriminator")
    p = [0.5, 0.3, 0.2, 0.0]
    q = [0.1, 0.1, 0.4, 0.4]
    m = [(a + b) / 2 for a, b in zip(p, q, strict=True)]

    def kl(u: list[float], w: list[float]) -> float:
        return sum(a * math.log(a / c) for a, c in zip(u, w, strict=True) if a > 0)

    value = sum(a * math.log(a / (a + b)) for a, b in zip(p, q, strict=True) if a > 0) + sum(
        b * math.log(b / (a + b)) for a, b in zip(p, q, strict=True) if b > 0
    )
    close(value, -math.log(4) + kl(p, m) + kl(q, m), 1e-12, "C(G) = -log 4 + 2 JSD")
    return f"50 random (a, b): grid argmax = a/(a+b); C(G) = {value:.4f} = -log 4 + 2 JSD"


def check_precision_recall() -> str:
    """n0, precision and recall: a collapsed generator has high precision and low recall.

    The k-nearest-neighbour estimate of Kynkaanniemi et al., on 2-D Gaussian "features", and
    the identity alpha(lambda) = lambda beta(lambda) of Sajjadi et al.'s curve.
    """
    rng = random.Random(12)

    def draw(scale: float, n: int) -> list[tuple[float, float]]:
        return [(scale * rng.gauss(0, 1), scale * rng.gauss(0, 1)) for _ in range(n)]

    def inside(points: list[tuple[float, float]], support: list[tuple[float, float]], k: int = 3) -> float:
        radii = [sorted(math.dist(c, o) for o in support)[k] for c in support]  # [0] is the point itself
        hits = sum(any(math.dist(p, c) <= r for c, r in zip(support, radii, strict=True)) for p in points)
        return hits / len(points)

    real, collapsed, spread = draw(1.0, 300), draw(0.2, 300), draw(3.0, 300)
    precision, recall = inside(collapsed, real), inside(real, collapsed)
    expect(precision > 0.9 and recall < 0.3, "collapse: high precision, low recall")
    wide_precision, wide_recall = inside(spread, real), inside(real, spread)
    expect(wide_precision < 0.6 and wide_recall > 0.9, "over-dispersion: the reverse")
    p_real, q_model = [0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.3, 0.5]
    for lam in (0.25, 1.0, 4.0):
        alpha = sum(min(lam * a, b) for a, b in zip(p_real, q_model, strict=True))
        beta = sum(min(a, b / lam) for a, b in zip(p_real, q_model, strict=True))
        close(alpha, lam * beta, 1e-12, "alpha = lambda beta")
    return (
        f"k = 3: collapsed generator precision {precision:.2f}, recall {recall:.2f}; "
        f"over-dispersed precision {wide_precision:.2f}, recall {wide_recall:.2f}"
    )


# --------------------------------------------------------------------------
# n0: the survey's classical models
# --------------------------------------------------------------------------


def check_em() -> str:
    """n0, mixtures and EM: EM never lowers the log-likelihood of a Gaussian mixture."""
    rng = random.Random(10)
    data = [rng.gauss(-2, 0.7) for _ in range(300)] + [rng.gauss(1.5, 1.2) for _ in range(500)]
    pi, mu, var = [0.5, 0.5], [-0.5, 0.5], [1.0, 1.0]

    def log_likelihood() -> float:
        return sum(math.log(sum(pi[k] * _normal(x, mu[k], var[k]) for k in range(2))) for x in data)

    history = [log_likelihood()]
    for _ in range(40):
        resp = []
        for x in data:
            w = [pi[k] * _normal(x, mu[k], var[k]) for k in range(2)]
            resp.append([v / sum(w) for v in w])
        for k in range(2):
            nk = sum(r[k] for r in resp)
            pi[k] = nk / len(data)
            mu[k] = sum(r[k] * x for r, x in zip(resp, data, strict=True)) / nk
            var[k] = sum(r[k] * (x - mu[k]) ** 2 for r, x in zip(resp, data, strict=True)) / nk
        history.append(log_likelihood())
    expect(all(b >= a - 1e-9 for a, b in itertools.pairwise(history)), "EM is monotone")
    return (
        f"800 points, 40 iterations: log-likelihood {history[0]:.1f} -> {history[-1]:.1f}, "
        f"never decreasing; means {mu[0]:.2f}, {mu[1]:.2f}"
    )


def check_hmm_forward() -> str:
    """n0, hidden Markov models: the forward recursion equals the sum over all K^T hidden paths."""
    start = [0.6, 0.3, 0.1]
    trans = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]]
    emit = [[0.5, 0.4, 0.1], [0.1, 0.3, 0.6], [0.3, 0.3, 0.4]]
    xs = [0, 2, 1, 2, 2, 0]
    k = len(start)
    alpha = [start[j] * emit[j][xs[0]] for j in range(k)]
    for x in xs[1:]:
        alpha = [emit[j][x] * sum(alpha[i] * trans[i][j] for i in range(k)) for j in range(k)]
    forward = sum(alpha)
    brute = 0.0
    for path in itertools.product(range(k), repeat=len(xs)):
        p = start[path[0]] * emit[path[0]][xs[0]]
        for s in range(1, len(xs)):
            p *= trans[path[s - 1]][path[s]] * emit[path[s]][xs[s]]
        brute += p
    close(forward, brute, 1e-15, "forward algorithm")
    return f"K = 3, T = 6: forward {forward:.6e} = brute force over {k ** len(xs)} paths"


def check_rbm() -> str:
    """n0, Boltzmann machines.

    RBM conditionals factorise into sigmoids; the likelihood gradient is data minus model.
    """
    rng = random.Random(11)
    nv, nh = 3, 2
    w = [[rng.uniform(-1, 1) for _ in range(nh)] for _ in range(nv)]
    a = [rng.uniform(-0.5, 0.5) for _ in range(nv)]
    b = [rng.uniform(-0.5, 0.5) for _ in range(nh)]
    states_v = list(itertools.product((0, 1), repeat=nv))
    states_h = list(itertools.product((0, 1), repeat=nh))

    def energy(v: Sequence[int], h: Sequence[int], w: list[list[float]]) -> float:
        return -(
            sum(a[i] * v[i] for i in range(nv))
            + sum(b[j] * h[j] for j in range(nh))
            + sum(v[i] * w[i][j] * h[j] for i in range(nv) for j in range(nh))
        )

    def sigmoid(u: float) -> float:
        return 1 / (1 + math.exp(-u))

    for v in states_v:
        weights = {h: math.exp(-energy(v, h, w)) for h in states_h}
        z = sum(weights.values())
        for j in range(nh):
            exact = sum(p for h, p in weights.items() if h[j] == 1) / z
            close(exact, sigmoid(b[j] + sum(v[i] * w[i][j] for i in range(nv))), 1e-12, "p(h_j = 1 | v)")
    data = [(1, 0, 1), (1, 1, 0), (0, 0, 1)]

    def mean_log_likelihood(w: list[list[float]]) -> float:
        log_z = math.log(sum(math.exp(-energy(v, h, w)) for v in states_v for h in states_h))
        return sum(math.log(sum(math.exp(-energy(v, h, w)) for h in states_h)) - log_z for v in data) / len(
            data
        )

    i, j, h_step = 1, 0, 1e-6
    bumped = [row[:] for row in w]
    bumped[i][j] += h_step
    lowered = [row[:] for row in w]
    lowered[i][j] -= h_step
    numeric = (mean_log_likelihood(bumped) - mean_log_likelihood(lowered)) / (2 * h_step)
    data_term = sum(v[i] * sigmoid(b[j] + sum(v[k] * w[k][j] for k in range(nv))) for v in data) / len(data)
    joint = {(v, h): math.exp(-energy(v, h, w)) for v in states_v for h in states_h}
    model_term = sum(p * v[i] * h[j] for (v, h), p in joint.items()) / sum(joint.values())
    close(numeric, data_term - model_term, 1e-7, "RBM log-likelihood gradient")
    return (
        f"3 visible, 2 hidden: conditionals are sigmoids; dL/dW_10 = {numeric:.6f} "
        f"= data {data_term:.4f} - model {model_term:.4f}"
    )


CHECKS: list[Callable[[], str]] = [
    check_lambda,
    check_posterior_and_ddim,
    check_gaussian_affine,
    check_gaussian_kl,
    check_gibbs,
    check_inception_score_bounds,
    check_tweedie,
    check_langevin,
    check_flow_limit,
    check_wasserstein,
    check_dequantisation,
    check_gan_optimum,
    check_precision_recall,
    check_em,
    check_hmm_forward,
    check_rbm,
]


def main(argv: list[str] | None = None) -> int:
    del argv
    failed = 0
    for check in CHECKS:
        name = check.__name__.removeprefix("check_")
        try:
            print(f"ok    {name}: {check()}")
        except Failed as error:
            failed += 1
            print(f"FAIL  {name}: {error}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

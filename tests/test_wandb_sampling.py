"""``method: random`` draws as W&B does: every distribution against W&B's documented semantics
(scipy's distributions as the independent reference), and what W&B rejects is rejected."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rlnet.experiments.wandb_sampling import DISTRIBUTIONS, ParameterSpec, draw, validate_parameter

N = 4000
ALPHA = 1e-3  # the tests' significance level, fixed before looking at any result


def sample(spec: dict, n: int = N, seed: int = 0) -> list:
    p = validate_parameter("x", spec)
    rng = np.random.default_rng(seed)
    return [draw(p, rng) for _ in range(n)]


# ---- continuous distributions: Kolmogorov-Smirnov against scipy --------------------------------
CONTINUOUS = [
    ({"min": 0.5, "max": 2.5}, stats.uniform(0.5, 2.0)),
    ({"distribution": "uniform", "min": 1, "max": 4}, stats.uniform(1, 3)),  # ints, but said uniform
    ({"distribution": "log_uniform", "min": -3, "max": 1}, stats.loguniform(math.exp(-3), math.exp(1))),
    ({"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1}, stats.loguniform(1e-4, 1e-1)),
    # exp(-U(min, max)): log-uniform on [e^-max, e^-min]
    ({"distribution": "inv_log_uniform", "min": 0, "max": 3}, stats.loguniform(math.exp(-3), 1.0)),
    ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 10}, stats.loguniform(0.01, 10)),
    ({"distribution": "normal", "mu": 2, "sigma": 0.5}, stats.norm(2, 0.5)),
    ({"distribution": "normal"}, stats.norm(0, 1)),  # W&B's defaults mu 0, sigma 1
    ({"distribution": "log_normal", "mu": -1, "sigma": 0.3}, stats.lognorm(s=0.3, scale=math.exp(-1))),
    ({"distribution": "beta", "a": 2, "b": 5}, stats.beta(2, 5)),
    ({"distribution": "beta"}, stats.beta(1, 1)),
]


@pytest.mark.parametrize("spec, ref", CONTINUOUS, ids=[str(c[0]) for c in CONTINUOUS])
def test_continuous_distributions_match_scipy(spec, ref):
    xs = sample(spec)
    assert all(type(x) is float for x in xs)
    assert stats.kstest(xs, ref.cdf).pvalue > ALPHA
    lo, hi = ref.support()
    assert lo <= min(xs) and max(xs) <= hi


def test_ks_test_detects_the_wrong_reading_of_log_uniform():
    """The check has power: ``log_uniform``'s min/max are exponents, and reading them as values is caught."""
    xs = sample({"distribution": "log_uniform", "min": 1, "max": 3})
    assert stats.kstest(xs, stats.loguniform(1, 3).cdf).pvalue < ALPHA
    assert min(xs) >= math.e and max(xs) <= math.e ** 3


# ---- discrete distributions: chi-square against the exact probabilities --------------------------
def chi_square_pvalue(values: list, pmf: dict) -> float:
    """Pearson's test of observed counts against ``pmf`` (support values -> probability); support
    points with expected count < 5 are pooled into one cell."""
    counts: dict = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    assert set(counts) <= set(pmf), set(counts) - set(pmf)
    n = len(values)
    obs, exp, pooled_o, pooled_e = [], [], 0, 0.0
    for v, p in pmf.items():
        if n * p >= 5:
            obs.append(counts.get(v, 0))
            exp.append(n * p)
        else:
            pooled_o += counts.get(v, 0)
            pooled_e += n * p
    if pooled_e > 0:
        obs.append(pooled_o)
        exp.append(pooled_e)
    exp = np.array(exp) * n / sum(exp)
    return float(stats.chisquare(obs, exp).pvalue)


def quantised_pmf(ref, q: float) -> dict:
    """P(round(X / q) * q = k q) = F((k + 1/2) q) - F((k - 1/2) q), X ~ ref (an unbounded support
    is cut where less than 1e-12 of the mass lies beyond)."""
    a, b = ref.support()
    a, b = max(a, ref.ppf(1e-12)), min(b, ref.ppf(1 - 1e-12))
    ks = range(math.floor(a / q - 0.5), math.ceil(b / q + 0.5) + 1)
    pmf = {}
    for k in ks:
        p = ref.cdf(min((k + 0.5) * q, b)) - ref.cdf(max((k - 0.5) * q, a))
        if p > 0:
            pmf[round(k * q, 10)] = p
    return pmf


def test_int_uniform_gives_integers_with_both_ends():
    xs = sample({"min": 3, "max": 7})  # two integers: W&B infers int_uniform
    assert all(type(x) is int for x in xs) and set(xs) == {3, 4, 5, 6, 7}
    assert chi_square_pvalue(xs, {k: 0.2 for k in range(3, 8)}) > ALPHA
    ys = sample({"distribution": "int_uniform", "min": -2, "max": 0})
    assert set(ys) == {-2, -1, 0} and all(type(y) is int for y in ys)


def test_categorical_uniform_and_with_probabilities():
    xs = sample({"values": ["a", "b", "c", 4]})
    assert chi_square_pvalue(xs, {"a": 0.25, "b": 0.25, "c": 0.25, 4: 0.25}) > ALPHA
    probs = [0.1, 0.6, 0.3]
    ys = sample({"values": [1, 30, 300], "probabilities": probs})
    assert chi_square_pvalue(ys, dict(zip([1, 30, 300], probs))) > ALPHA
    zs = sample({"distribution": "categorical_w_probabilities", "values": ["x", "y"], "probabilities": [0, 1]})
    assert set(zs) == {"y"}
    # The test sees the difference between honoured and ignored probabilities.
    assert chi_square_pvalue(ys, {1: 1 / 3, 30: 1 / 3, 300: 1 / 3}) < ALPHA


def test_constant_and_list_values_are_returned_as_given():
    assert sample({"value": [0, 1, 2]}, n=3) == [[0, 1, 2]] * 3
    assert sample({"distribution": "constant", "value": "x"}, n=2) == ["x", "x"]
    assert set(map(tuple, sample({"values": [[0, 1], [2, 3]]}, n=50))) == {(0, 1), (2, 3)}


QUANTISED = [
    ({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2}, stats.uniform(0, 10), 2, int),
    ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.25}, stats.uniform(0, 1), 0.25, float),
    ({"distribution": "q_uniform", "min": 0.5, "max": 4.5}, stats.uniform(0.5, 4), 1.0, float),  # q defaults to 1.0
    ({"distribution": "q_log_uniform", "min": 0, "max": 3, "q": 1}, stats.loguniform(1, math.exp(3)), 1, int),
    ({"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 5}, stats.loguniform(1, 100), 5, int),
    ({"distribution": "q_normal", "mu": 10, "sigma": 3, "q": 2}, stats.norm(10, 3), 2, int),
    ({"distribution": "q_log_normal", "mu": 1, "sigma": 0.5, "q": 0.5},
     stats.lognorm(s=0.5, scale=math.e), 0.5, float),
    ({"distribution": "q_beta", "a": 2, "b": 2, "q": 0.1}, stats.beta(2, 2), 0.1, float),
]


@pytest.mark.parametrize("spec, ref, q, kind", QUANTISED, ids=[str(c[0]) for c in QUANTISED])
def test_quantised_distributions(spec, ref, q, kind):
    xs = sample(spec)
    assert all(type(x) is kind for x in xs)  # integers exactly when q is an integer
    assert all(math.isclose(x / q, round(x / q), abs_tol=1e-9) for x in xs)  # multiples of q
    assert chi_square_pvalue([round(x, 10) for x in xs], quantised_pmf(ref, q)) > ALPHA


def test_draws_are_reproducible_and_every_distribution_is_covered():
    specs = {d: s for s, *_ in CONTINUOUS + QUANTISED for d in [validate_parameter("x", s).distribution]}
    specs.update(constant={"value": 1}, categorical={"values": [1, 2]}, int_uniform={"min": 0, "max": 2},
                 categorical_w_probabilities={"values": [1, 2], "probabilities": [0.5, 0.5]})
    assert set(specs) == set(DISTRIBUTIONS)
    for spec in specs.values():
        assert sample(spec, n=20, seed=5) == sample(spec, n=20, seed=5)


# ---- what W&B rejects ------------------------------------------------------------------------------
REJECTED = [
    ({"distribution": "gaussian", "mu": 0}, "x.distribution"),
    ({"distribution": "categorical", "values": [1, 2], "probabilities": [0.5, 0.5]}, "x.probabilities"),
    ({"values": [1, 2], "probabilities": [0.5]}, "x.probabilities"),
    ({"values": [1, 2], "probabilities": [0.5, 0.6]}, "x.probabilities"),
    ({"values": [1, 2], "probabilities": [-0.5, 1.5]}, "x.probabilities"),
    ({"values": []}, "x.values"),
    ({"values": 3}, "x.values"),
    ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "x.min"),
    ({"min": 3, "max": 3}, "x.min"),
    ({"min": 5, "max": 1}, "x.min"),
    ({"min": "a", "max": 1.5}, "x.min"),
    ({"min": True, "max": 4}, "x.min"),
    ({"distribution": "log_uniform_values", "min": 0, "max": 1}, "x.min"),
    ({"distribution": "q_log_uniform_values", "min": -1, "max": 1}, "x.min"),
    ({"distribution": "log_uniform", "max": 1}, "x.min"),
    ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "x.q"),
    ({"distribution": "normal", "sigma": -1}, "x.sigma"),
    ({"distribution": "normal", "min": 0}, "x.min"),
    ({"distribution": "beta", "a": -1}, "x.a"),
    ({"value": 1, "values": [1]}, "x.values"),
    ({"min": 0.1, "max": 1, "q": 0.1}, "x.q"),  # q without a q_ distribution
    ({"parameters": {"y": {"value": 1}}}, "x.parameters"),
    ({}, "parameters.x"),
    ("fast", "parameters.x"),
]


@pytest.mark.parametrize("spec, field", REJECTED, ids=[str(r[0]) for r in REJECTED])
def test_rejected_like_wandb(spec, field):
    with pytest.raises(ValueError, match=r"parameters\." + field.replace("parameters.", "").replace(".", r"\.")):
        validate_parameter("x", spec)


def test_bad_parameter_name():
    with pytest.raises(ValueError, match="parameter names"):
        validate_parameter("--lr", {"value": 1})


def test_defaults_are_filled_in():
    assert validate_parameter("x", {"distribution": "q_normal"}) == ParameterSpec(
        "x", "q_normal", {"mu": 0.0, "sigma": 1.0, "q": 1.0})
    assert validate_parameter("x", {"min": 1, "max": 2}).distribution == "int_uniform"
    assert validate_parameter("x", {"min": 1, "max": 2.0}).distribution == "uniform"


def test_the_sweep_driver_draws_and_checks_with_wandb_semantics():
    """A `method: random` sweep file goes through this module: probabilities are honoured,
    int_uniform gives integers, and a file W&B would reject is rejected by the driver."""
    from rlnet.experiments.sweep import parse_sweep, sample

    raw = {"method": "random", "command": ["python", "-m", "rlnet", "fit", "${args}"],
           "parameters": {"model.init_args.n_hidden": {"distribution": "int_uniform", "min": 8, "max": 12},
                          "model.init_args.lr": {"values": [0.1, 0.2], "probabilities": [0.0, 1.0]}}}
    sweep = parse_sweep(raw)
    draws = sample(sweep.parameters, 200, seed=3)
    assert all(type(d["model.init_args.n_hidden"]) is int and 8 <= d["model.init_args.n_hidden"] <= 12
               for d in draws)
    assert {d["model.init_args.n_hidden"] for d in draws} == {8, 9, 10, 11, 12}
    assert {d["model.init_args.lr"] for d in draws} == {0.2}
    bad = {**raw, "parameters": {"model.init_args.lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}}
    with pytest.raises(ValueError, match=r"sweep\.parameters\.model\.init_args\.lr\.min"):
        parse_sweep(bad)

"""W&B's sweep parameter distributions: validate a parameter as W&B does, draw a value as W&B does.

The semantics are W&B's own (its sweep config schema and ``HyperParameter.ppf`` in the ``sweeps``
package that runs W&B's controller; https://docs.wandb.ai/guides/sweeps/sweep-config-keys):

===============================  =================================  =============================================
distribution                     keys (defaults)                    value
===============================  =================================  =============================================
``constant``                     ``value``                          ``value``
``categorical``                  ``values``                         one of ``values``, uniformly
``categorical_w_probabilities``  ``values``, ``probabilities``      one of ``values`` with those probabilities
``int_uniform``                  ``min``, ``max`` (integers)        integer in ``[min, max]``, both ends included
``uniform``                      ``min``, ``max``                   real in ``[min, max]``
``q_uniform``                    ``min``, ``max``, ``q`` (1.0)      ``round(U(min, max) / q) * q``
``log_uniform``                  ``min``, ``max`` (exponents!)      ``exp(U(min, max))``
``log_uniform_values``           ``min`` > 0, ``max``               ``exp(U(log min, log max))``
``q_log_uniform``                ``min``, ``max``, ``q`` (1.0)      ``round(exp(U(min, max)) / q) * q``
``q_log_uniform_values``         ``min`` > 0, ``max``, ``q`` (1.0)  ``round(exp(U(log min, log max)) / q) * q``
``inv_log_uniform``              ``min``, ``max``                   ``exp(-U(min, max))``
``inv_log_uniform_values``       ``min`` > 0, ``max``               ``exp(-U(-log max, -log min))``
``normal``                       ``mu`` (0), ``sigma`` (1)          ``N(mu, sigma^2)``
``q_normal``                     ``mu``, ``sigma``, ``q`` (1.0)     ``round(N(mu, sigma^2) / q) * q``
``log_normal``                   ``mu`` (0), ``sigma`` (1)          ``exp(N(mu, sigma^2))``
``q_log_normal``                 ``mu``, ``sigma``, ``q`` (1.0)     ``round(exp(N(mu, sigma^2)) / q) * q``
``beta``                         ``a`` (1), ``b`` (1)               ``Beta(a, b)``
``q_beta``                       ``a``, ``b``, ``q`` (1.0)          ``round(Beta(a, b) / q) * q``
===============================  =================================  =============================================

Without ``distribution`` W&B infers it: ``value`` -> constant, ``values`` -> categorical (with
``probabilities``: categorical_w_probabilities), ``min``/``max`` both integers -> int_uniform, else
uniform. Quantised values are integers when ``q`` is an integer and floats otherwise (the default
``q`` is 1.0, a float). Rounding is NumPy's (half to even).

W&B rejects, and so does :func:`validate_parameter`: unknown distributions; keys a distribution
does not take (e.g. ``probabilities`` with ``distribution: categorical``); non-numbers (booleans
included) where numbers go; ``int_uniform`` bounds that are not integers; ``min >= max``;
``min <= 0`` for the ``*_values`` log distributions; ``q <= 0``; ``sigma < 0``; empty
``values``; probabilities that are negative, fewer or more than the values, or do not sum to 1;
parameter names outside ``[A-Za-z_][A-Za-z0-9_.-]*``. rlnet also rejects ``a = 0`` or ``b = 0``
for the beta distributions (W&B takes them and draws NaN).

Example::

    >>> import numpy as np
    >>> spec = validate_parameter("model.init_args.lr", {"distribution": "log_uniform_values",
    ...                                                  "min": 1e-4, "max": 1e-1})
    >>> spec.distribution
    'log_uniform_values'
    >>> 1e-4 <= draw(spec, np.random.default_rng(0)) <= 1e-1
    True
    >>> draw(validate_parameter("n", {"min": 1, "max": 3}), np.random.default_rng(0)) in (1, 2, 3)
    True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")

# distribution -> (required keys, {optional key: default})
_KEYS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "constant": (("value",), {}),
    "categorical": (("values",), {}),
    "categorical_w_probabilities": (("values", "probabilities"), {}),
    "int_uniform": (("min", "max"), {}),
    "uniform": (("min", "max"), {}),
    "q_uniform": (("min", "max"), {"q": 1.0}),
    "log_uniform": (("min", "max"), {}),
    "log_uniform_values": (("min", "max"), {}),
    "q_log_uniform": (("min", "max"), {"q": 1.0}),
    "q_log_uniform_values": (("min", "max"), {"q": 1.0}),
    "inv_log_uniform": (("min", "max"), {}),
    "inv_log_uniform_values": (("min", "max"), {}),
    "normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "log_normal": ((), {"mu": 0.0, "sigma": 1.0}),
    "q_log_normal": ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    "beta": ((), {"a": 1.0, "b": 1.0}),
    "q_beta": ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
DISTRIBUTIONS = tuple(_KEYS)


@dataclass(frozen=True)
class ParameterSpec:
    """A validated parameter: its name, its distribution and every key with W&B's defaults filled in."""

    name: str
    distribution: str
    config: dict[str, Any] = field(default_factory=dict)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _infer(spec: dict) -> str | None:
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    if "min" in spec and "max" in spec:
        return "int_uniform" if _is_int(spec["min"]) and _is_int(spec["max"]) else "uniform"
    return None


def validate_parameter(name: str, spec: Any) -> ParameterSpec:
    """Check one entry of a sweep file's ``parameters`` as W&B does; ``ValueError`` naming the
    field (``parameters.<name>.<key>``) otherwise. Returns the spec with W&B's defaults filled in."""
    where = f"parameters.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{where}: W&B parameter names match [A-Za-z_][A-Za-z0-9_.-]*")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: must be a mapping (value, values, or a distribution with its keys), got {spec!r}")
    if "parameters" in spec:
        raise ValueError(f"{where}.parameters: nested parameters are not supported; use flat dotted names")
    dist = spec.get("distribution")
    if dist is None:
        dist = _infer(spec)
        if dist is None:
            raise ValueError(f"{where}: give 'value', 'values', 'min' and 'max', or a 'distribution'")
    elif dist not in _KEYS:
        raise ValueError(f"{where}.distribution: {dist!r} is not one of W&B's distributions {list(DISTRIBUTIONS)}")
    required, optional = _KEYS[dist]
    extra = sorted(set(spec) - set(required) - set(optional) - {"distribution"})
    if extra:
        hint = " (probabilities go without a distribution, or with categorical_w_probabilities)" \
            if dist == "categorical" and "probabilities" in extra else ""
        raise ValueError(f"{where}.{extra[0]}: distribution {dist!r} does not take {extra}{hint}")
    missing = [k for k in required if k not in spec]
    if missing:
        raise ValueError(f"{where}.{missing[0]}: distribution {dist!r} needs {list(required)}")
    cfg = {**optional, **{k: v for k, v in spec.items() if k != "distribution"}}
    for key in ("min", "max", "q", "mu", "sigma", "a", "b"):
        if key in cfg and not _is_number(cfg[key]):
            raise ValueError(f"{where}.{key}: must be a number, got {cfg[key]!r}")
        if key in cfg and not math.isfinite(float(cfg[key])):
            raise ValueError(f"{where}.{key}: must be finite, got {cfg[key]!r}")
    if dist == "int_uniform":
        for key in ("min", "max"):
            if not _is_int(cfg[key]):
                raise ValueError(f"{where}.{key}: int_uniform needs integers, got {cfg[key]!r}")
    if "min" in cfg and cfg["min"] >= cfg["max"]:
        raise ValueError(f"{where}.min: min {cfg['min']} is not less than max {cfg['max']}")
    if dist.endswith("_values") and cfg["min"] <= 0:
        raise ValueError(f"{where}.min: {dist} needs min > 0 (the values themselves), got {cfg['min']}")
    if "q" in cfg and cfg["q"] <= 0:
        raise ValueError(f"{where}.q: must be > 0, got {cfg['q']}")
    if "sigma" in cfg and cfg["sigma"] < 0:
        raise ValueError(f"{where}.sigma: must be >= 0, got {cfg['sigma']}")
    for key in ("a", "b"):  # W&B's schema allows 0, but no Beta distribution has it: a NaN per draw
        if key in cfg and cfg[key] <= 0:
            raise ValueError(f"{where}.{key}: must be > 0, got {cfg[key]}")
    if "values" in cfg and (not isinstance(cfg["values"], list) or not cfg["values"]):
        raise ValueError(f"{where}.values: must be a non-empty list, got {cfg['values']!r}")
    if dist == "categorical_w_probabilities":
        p = cfg["probabilities"]
        if not isinstance(p, list) or not p or not all(_is_number(v) and v >= 0 for v in p):
            raise ValueError(f"{where}.probabilities: must be a non-empty list of numbers >= 0, got {p!r}")
        if len(p) != len(cfg["values"]):
            raise ValueError(f"{where}.probabilities: {len(p)} probabilities for {len(cfg['values'])} values")
        if not np.isclose(sum(p), 1.0):
            raise ValueError(f"{where}.probabilities: sum to {sum(p)}, not 1")
    return ParameterSpec(name=name, distribution=dist, config=cfg)


def _quantise(v: float, q: Any) -> Any:
    r = float(np.round(v / q) * q)
    return int(r) if _is_int(q) else r


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def draw(spec: ParameterSpec | dict, rng: np.random.Generator, name: str = "parameter") -> Any:
    """One value of the parameter, drawn from ``rng`` with W&B's semantics (module table); a raw
    dict is validated first. Python ``int``/``float`` (never NumPy scalars), or the listed value."""
    if not isinstance(spec, ParameterSpec):
        spec = validate_parameter(name, spec)
    d, c = spec.distribution, spec.config
    if d == "constant":
        return c["value"]
    if d == "categorical":
        return _plain(c["values"][int(rng.integers(len(c["values"])))])
    if d == "categorical_w_probabilities":
        cdf = np.cumsum(c["probabilities"])
        i = int(np.searchsorted(cdf, rng.random(), side="right"))  # the first i with u < cdf[i]
        return _plain(c["values"][min(i, len(cdf) - 1)])
    if d == "int_uniform":
        return int(rng.integers(int(c["min"]), int(c["max"]) + 1))
    if d in ("uniform", "q_uniform"):
        v = float(rng.uniform(c["min"], c["max"]))
    elif d in ("log_uniform", "q_log_uniform"):
        v = math.exp(rng.uniform(c["min"], c["max"]))
    elif d in ("log_uniform_values", "q_log_uniform_values"):
        v = math.exp(rng.uniform(math.log(c["min"]), math.log(c["max"])))
    elif d == "inv_log_uniform":
        v = math.exp(-rng.uniform(c["min"], c["max"]))
    elif d == "inv_log_uniform_values":
        v = math.exp(-rng.uniform(-math.log(c["max"]), -math.log(c["min"])))
    elif d in ("normal", "q_normal"):
        v = float(rng.normal(c["mu"], c["sigma"]))
    elif d in ("log_normal", "q_log_normal"):
        v = math.exp(rng.normal(c["mu"], c["sigma"]))
    elif d in ("beta", "q_beta"):
        v = float(rng.beta(c["a"], c["b"]))
    else:  # validate_parameter knows every name in _KEYS
        raise AssertionError(d)
    return _quantise(v, c["q"]) if d.startswith("q_") else v

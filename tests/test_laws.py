"""Bias/weight laws against scipy's quadrature and sample moments; random_mlp."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from linregions.activations import hard_tanh, relu
from linregions.laws import AssumptionError, HeNormal, Laplace, Law, Normal, Uniform, Zero, random_mlp

LAWS = [Normal(std=0.7, mean=0.2), Uniform(-0.3, 0.5), Laplace(scale=0.4, loc=-0.1)]


@pytest.mark.parametrize("law", LAWS, ids=lambda l: type(l).__name__)
def test_pdf_cdf_sup_density(law):
    assert isinstance(law, Law) and law.has_density
    lo, hi = -12.0, 12.0
    pts = [-0.3, 0.5, -0.1, 0.2]
    total, _ = integrate.quad(law.pdf, lo, hi, points=pts, limit=200)
    assert total == pytest.approx(1.0, abs=1e-8)
    for x in (-1.0, -0.05, 0.3, 1.5):
        area, _ = integrate.quad(law.pdf, lo, x, points=[p for p in pts if p < x], limit=200)
        assert float(law.cdf(x)) == pytest.approx(area, abs=1e-8)
    grid = np.linspace(-5, 5, 200001)
    assert law.sup_density == pytest.approx(float(law.pdf(grid).max()), rel=1e-3)
    # sample moments within 5 standard errors
    rng = np.random.default_rng(0)
    n = 200_000
    s = law.sample(rng, (n,))
    mean = {Normal: lambda l: l.mean, Uniform: lambda l: (l.low + l.high) / 2, Laplace: lambda l: l.loc}[type(law)](law)
    assert abs(s.mean() - mean) < 5 * law.std / math.sqrt(n)
    # SE of the sample variance: sqrt((mu_4 - sigma^4) / n), with the law's kurtosis mu_4 / sigma^4
    kurt = {Normal: 3.0, Uniform: 1.8, Laplace: 6.0}[type(law)]
    var_se = law.std**2 * math.sqrt((kurt - 1.0) / n)
    assert abs(s.var() - law.std**2) < 5 * var_se


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: Normal(std=0.0), "std"), (lambda: Normal(std=-1.0), "std"), (lambda: Normal(std=math.nan), "std"),
        (lambda: Uniform(1.0, 1.0), "low < high"), (lambda: Uniform(0.0, math.inf), "low < high"),
        (lambda: Laplace(scale=0.0), "scale"), (lambda: HeNormal(gain=0.0), "gain"),
    ],
)
def test_law_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_zero_law_is_flagged():
    z = Zero()
    assert not z.has_density and z.sup_density == math.inf and z.std == 0.0
    with pytest.raises(AssumptionError, match="A2"):
        z.pdf(0.0)
    assert issubclass(AssumptionError, ValueError)
    assert np.all(z.sample(np.random.default_rng(0), (5,)) == 0)
    net = random_mlp(3, [4, 4], biases=Zero(), seed=0)
    assert all(np.all(b == 0) for b in net.biases)


def test_random_mlp_he_normal_variance_and_reproducibility():
    widths = [400, 300]
    net = random_mlp(200, widths, 5, seed=1)
    assert net.widths == (400, 300) and net.n_in == 200 and net.n_out == 5
    for W in net.weights:
        fan_in = W.shape[1]
        n = W.size
        # sample variance of N(0, 2 / fan_in): standard error sqrt(2 / n) * sigma^2
        assert abs(W.var() - 2.0 / fan_in) < 5 * math.sqrt(2.0 / n) * 2.0 / fan_in
        assert abs(W.mean()) < 5 * math.sqrt(2.0 / fan_in / n)
    b = np.concatenate(net.biases[:-1])
    assert abs(b.std() - 0.1) < 5 * 0.1 / math.sqrt(2 * b.size)  # default hidden bias law N(0, 0.1^2)
    again = random_mlp(200, widths, 5, seed=1)
    assert all(np.array_equal(a, c) for a, c in zip(net.weights + net.biases, again.weights + again.biases))
    other = random_mlp(200, widths, 5, seed=2)
    assert not np.array_equal(net.weights[0], other.weights[0])
    # Generator seeds are consumed; laws and activations per layer
    g = np.random.default_rng(3)
    n1 = random_mlp(2, [3, 3], activation=[relu(), hard_tanh()], weights=Uniform(-1, 1), biases=Laplace(0.1), seed=g)
    assert [a.name for a in n1.activations] == ["relu", "hard_tanh(-1,1)"]
    assert all(np.all(np.abs(W) <= 1) for W in n1.weights)
    ob = random_mlp(2, [3], biases=Normal(0.1), output_biases=Zero(), seed=0)
    assert np.all(ob.biases[-1] == 0)


@pytest.mark.parametrize(
    "kwargs,err,match",
    [
        (dict(n_in=0, widths=[3]), ValueError, "positive"),
        (dict(n_in=2, widths=[]), ValueError, "hidden layer"),
        (dict(n_in=2, widths=[3, 0]), ValueError, "positive"),
        (dict(n_in=2, widths=[3, 3], activation=[relu()]), ValueError, "activations"),
        (dict(n_in=2, widths=[3], weights="he"), TypeError, "weights"),
    ],
)
def test_random_mlp_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        random_mlp(**kwargs)


def test_random_mlp_refuses_a_size_no_memory_holds_before_sampling():
    """Issue 12, finding 10: 784 x 10^12 float64 weights (6.3 PB) fail up front with the size named."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"784-1000000000000-1 .*parameters") as e:
        random_mlp(784, [10**12])
    assert time.perf_counter() - t0 < 1.0
    assert "PB" in str(e.value)
    assert random_mlp(784, [4], seed=0).widths == (4,)

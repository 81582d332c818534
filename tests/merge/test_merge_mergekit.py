"""Every mergekit method of the registry against mergekit's own implementation, on small random tensors.

mergekit (``pip install mergekit``, a test extra) runs its method objects on torch tensors here; ours run
through the registry record (parameters bound, layer rule).  The random methods (DARE, DELLA) take their
Bernoulli draws from torch's generator seeded the same way on both sides, so the comparison is an
equality (to 1e-6: mergekit sparsifies float64 tensors in float32 on the CPU), not a statistical test.
"""

from __future__ import annotations

import numpy as np
import pytest

from netspectra.merge import methods as mm
from netspectra.merge.registry import MethodParams, get_method
from netspectra.merge.rules import LayerInputs

torch = pytest.importorskip("torch")
mergekit_registry = pytest.importorskip("mergekit.merge_methods.registry")
from mergekit.merge_methods.base import TensorGroup  # noqa: E402

SEED = 1234


def mergekit_merge(name, base, models, **parameters):
    """mergekit's method ``name`` on one tensor group (base first when given), in float64."""
    tensors = ([base] if base is not None else []) + list(models)
    group = TensorGroup.from_tensors([torch.from_numpy(t) for t in tensors], base_index=0 if base is not None else None)
    torch.manual_seed(SEED)
    (merged,) = mergekit_registry.get(name)([group], parameters=parameters, dtype=torch.float64)
    return merged.numpy()


def torch_draw(p):
    """torch.bernoulli on float32 probabilities: the draws mergekit's sparsifiers make on the CPU."""
    return torch.bernoulli(torch.from_numpy(np.asarray(p, dtype=np.float32))).numpy().astype(bool)


def ours(name, base, models, weights, **params):
    """Our method ``name`` (a mergekit name: an alias) through its registry record, torch-seeded draws."""
    method = get_method(name)
    bound = method.bind(MethodParams(**params), len(models))
    torch.manual_seed(SEED)
    inputs = LayerInputs("layer.weight", method.name, models, base, tuple(weights), bound, draw=torch_draw)
    return method.rule(inputs).values


def family(shape, count, seed=0, scale=0.1):
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape)
    return base, [base + scale * rng.standard_normal(shape) for _ in range(count)]


SHAPES = [(8, 12), (24,), (3, 4, 5)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("normalize", [True, False])
def test_linear(shape, normalize):
    _, models = family(shape, 3)
    weights = [1.0, 0.3, 0.5]
    expected = mergekit_merge("linear", None, models, weight=weights, normalize=normalize)
    np.testing.assert_allclose(ours("linear", None, models, weights, normalize=normalize), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("scale", "normalize"), [(1.0, False), (0.7, False), (1.3, True)])
def test_task_arithmetic(shape, scale, normalize):
    base, models = family(shape, 3)
    weights = [1.0, 0.3, 0.5]
    expected = mergekit_merge("task_arithmetic", base, models, weight=weights, normalize=normalize, **{"lambda": scale})
    got = ours("task_arithmetic", base, models, weights, scale=scale, normalize=normalize)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.25, 0.33, 0.5, 1.0])
@pytest.mark.parametrize("normalize", [True, False])
def test_ties(shape, density, normalize):
    """TIES on matrices, vectors and 3-D tensors, density n whole or not: the trim keeps max(1, floor(density n))
    entries as mergekit does (it kept ceil(density n), and averaged the tensors that are not 2-D)."""
    base, models = family(shape, 3)
    weights, densities = [1.0, 0.5, 0.8], [density, 0.5, 0.25]
    expected = mergekit_merge("ties", base, models, weight=weights, density=densities, normalize=normalize, **{"lambda": 0.9})
    got = ours("ties", base, models, weights, density=tuple(densities), normalize=normalize, scale=0.9)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["dare_linear", "dare_ties"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("rescale", "normalize"), [(True, False), (False, True), (True, True)])
def test_dare(name, shape, rescale, normalize):
    base, models = family(shape, 3, seed=1)
    weights, densities = [1.0, 0.6, 0.4], [0.3, 0.5, 0.8]
    expected = mergekit_merge(name, base, models, weight=weights, density=densities, rescale=rescale, normalize=normalize)
    got = ours(name, base, models, weights, density=tuple(densities), rescale="l1" if rescale else "none", normalize=normalize)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert not np.allclose(got, ours(name, base, models, weights, density=0.99)), "the masks must matter"


@pytest.mark.parametrize("name", ["della", "della_linear"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("rescale", "normalize"), [(True, True), (False, False)])
def test_della(name, shape, rescale, normalize):
    base, models = family(shape, 3, seed=2)
    weights, densities, epsilons = [1.0, 0.6, 0.4], [0.3, 0.5, 0.7], [0.1, 0.2, 0.15]
    expected = mergekit_merge(
        name, base, models, weight=weights, density=densities, epsilon=epsilons, rescale=rescale, normalize=normalize
    )
    got = ours(
        name,
        base,
        models,
        weights,
        density=tuple(densities),
        epsilon=tuple(epsilons),
        rescale="l1" if rescale else "none",
        normalize=normalize,
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["breadcrumbs", "breadcrumbs_ties"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("density", "gamma"), [(0.5, 0.1), (0.9, 0.2), (0.33, 0.01)])
def test_breadcrumbs(name, shape, density, gamma):
    base, models = family(shape, 3, seed=3)
    weights = [1.0, 0.6, 0.4]
    expected = mergekit_merge(name, base, models, weight=weights, density=density, gamma=gamma, **{"lambda": 1.1})
    got = ours(name, base, models, weights, density=density, gamma=gamma, scale=1.1)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("t", [0.0, 0.3, 0.5, 1.0])
def test_slerp(shape, t):
    a, (b,) = family(shape, 1, seed=4, scale=1.0)
    expected = mergekit_merge("slerp", a, [b], t=t)  # mergekit: from the base to the other model
    np.testing.assert_allclose(ours("slerp", None, [a, b], [1.0, 1.0], t=t), expected, rtol=0, atol=1e-12)


def test_slerp_of_nearly_collinear_tensors_is_linear():
    a = np.linspace(1.0, 2.0, 12)
    b = 2.0 * a + 1e-6
    expected = mergekit_merge("slerp", a, [b], t=0.25)
    np.testing.assert_allclose(ours("slerp", None, [a, b], [1.0, 1.0], t=0.25), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(expected, 0.75 * a + 0.25 * b)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(("flatten", "row_wise"), [(True, False), (False, False), (False, True)])
@pytest.mark.parametrize("with_base", [True, False])
def test_nuslerp(shape, flatten, row_wise, with_base):
    base, models = family(shape, 2, seed=5, scale=1.0)
    weights = [0.3, 0.9]
    expected = mergekit_merge(
        "nuslerp", base if with_base else None, models, weight=weights, nuslerp_flatten=flatten, nuslerp_row_wise=row_wise
    )
    got = ours("nuslerp", base if with_base else None, models, weights, nuslerp_flatten=flatten, nuslerp_row_wise=row_wise)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("filter_wise", [False, True])
@pytest.mark.parametrize("count", [2, 4])
def test_model_stock(shape, filter_wise, count):
    base, models = family(shape, count, seed=6)
    expected = mergekit_merge("model_stock", base, models, filter_wise=filter_wise)
    got = ours("model_stock", base, models, [1.0] * count, filter_wise=filter_wise)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_model_stock_matches_the_papers_closed_form():
    """Two task vectors at a known angle: t = 2 cos / (1 + cos), merged = t (M_1 + M_2) / 2 + (1 - t) B."""
    base = np.zeros(2)
    m1, m2 = np.array([1.0, 0.0]), np.array([0.5, 0.5 * np.sqrt(3.0)])  # 60 degrees apart
    t = 2 * 0.5 / 1.5
    np.testing.assert_allclose(mm.model_stock(base, [m1, m2]), t * (m1 + m2) / 2, atol=1e-15)


def test_dare_inverse_rescale_is_the_papers_one_over_keep_probability():
    tau = np.arange(1.0, 9.0)
    keep = np.array([True, False] * 4)
    np.testing.assert_array_equal(mm.dare_drop(tau, 0.25, lambda p: keep, "inverse"), np.where(keep, tau / 0.25, 0.0))
    kept_l1 = mm.dare_drop(tau, 0.25, lambda p: keep, "l1")
    np.testing.assert_allclose(np.abs(kept_l1).sum(), np.abs(tau).sum())


def test_della_probabilities_rank_magnitudes_within_rows():
    tau = np.array([[0.1, -3.0, 2.0], [5.0, 0.0, -1.0]])
    # ranks (1 = smallest |.|) 1, 3, 2 and 3, 1, 2: p = 0.5 - 0.1 + 0.2 (r - 1) / 2
    np.testing.assert_allclose(mm.della_probabilities(tau, 0.5, 0.1), [[0.4, 0.6, 0.5], [0.6, 0.4, 0.5]])


def test_the_seeded_draws_are_reproducible_and_depend_on_the_tensor_name():
    base, models = family((6, 7), 2, seed=7)
    method = get_method("dare-ties")
    bound = method.bind(MethodParams(density=0.5), 2)

    def merge(name, seed_bound=bound):
        return method.rule(LayerInputs(name, method.name, models, base, (1.0, 1.0), seed_bound)).values

    np.testing.assert_array_equal(merge("a.weight"), merge("a.weight"))
    assert not np.array_equal(merge("a.weight"), merge("b.weight"))
    assert not np.array_equal(merge("a.weight"), merge("a.weight", method.bind(MethodParams(density=0.5, seed=1), 2)))

"""MC dropout (minivi/dropout.py): the masks of each sampling mode, the weight-decay KL by hand and its
gradient three ways, the sampling protocol, same seed same bits, bad input."""
import numpy as np
import pytest

import minivi as mv
from minivi.dropout import Dropout, dropout_kl


def rng(seed=0):
    return np.random.default_rng(seed)


def test_mean_mode_and_rate_zero_are_the_identity():
    x = rng(1).normal(size=(4, 3))
    assert np.array_equal(Dropout(0.3, rng=rng())(x, mode="mean").data, x)
    assert np.array_equal(Dropout(0.0, rng=rng())(x).data, x)


def test_sample_mode_draws_one_mask_per_entry_scaled_by_one_over_keep():
    p, x = 0.25, np.ones((2000, 5))
    out = Dropout(p, rng=rng(2))(x).data
    assert set(np.unique(out)) == {0.0, 1 / (1 - p)}
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 4 * np.sqrt(p * (1 - p) / out.size)       # the rate, within 4 standard errors
    assert len({tuple(row) for row in out}) > 1                          # rows differ: per-row masks
    # the same draws by hand from the same generator
    expected = (rng(2).random((2000, 5)) < 1 - p) / (1 - p)
    assert np.array_equal(out, expected)


def test_function_mode_shares_one_mask_by_all_rows_of_a_sample():
    x = np.ones((6, 4))
    out = Dropout(0.5, rng=rng(3))(x, mode="function", n_samples=50).data
    assert out.shape == (50, 6, 4)
    assert np.all(out == out[:, :1, :])                                   # every row the same within a sample
    assert len({tuple(s[0]) for s in out}) > 1                           # samples differ


def test_n_samples_gives_the_sample_axis_and_per_entry_masks():
    x = np.ones((3, 2))
    out = Dropout(0.5, rng=rng(4))(x, n_samples=7).data
    assert out.shape == (7, 3, 2)
    assert len({tuple(r) for s in out for r in s}) > 1


def test_the_mean_over_masks_is_the_input():
    x = rng(5).normal(size=(2, 3))
    out = Dropout(0.2, rng=rng(6))(x, n_samples=40000).data
    se = np.abs(x) * np.sqrt(0.2 / 0.8) / np.sqrt(40000)                # sd of x z/(1-p) is |x| sqrt(p/(1-p))
    assert np.all(np.abs(out.mean(axis=0) - x) < 5 * se)


def test_same_seed_same_bits_and_predict_draws_whole_networks():
    def model(seed):
        r = rng(seed)
        return mv.Sequential(Dropout(0.1, rng=r), mv.Linear(3, 8, rng=r), mv.ReLU(), Dropout(0.1, rng=r),
                             mv.Linear(8, 1, rng=r))

    x = rng(7).normal(size=(5, 3))
    a, b = mv.predict(model(1), x, n_samples=30), mv.predict(model(1), x, n_samples=30)
    assert np.array_equal(a, b) and a.shape == (30, 5, 1)
    assert np.std(a[:, 0, 0]) > 0
    # one network per sample: a row repeated in x gets the same output in every sample
    twice = mv.predict(model(1), np.vstack([x[:1], x[:1]]), n_samples=30)
    assert np.array_equal(twice[:, 0], twice[:, 1])


def test_dropout_kl_by_hand_and_its_gradient_three_ways():
    r = rng(8)
    first, second = mv.Linear(3, 4, rng=r), mv.Linear(4, 2, rng=r)
    first.bias.data = r.normal(size=4)
    model = mv.Sequential(first, mv.ReLU(), Dropout(0.2, rng=r), second)
    s = 0.7
    by_hand = (np.sum(first.weight.data ** 2) + np.sum(first.bias.data ** 2)) / (2 * s ** 2) \
        + np.sum(second.weight.data ** 2) / (2 * s ** 2 * 0.8) + np.sum(second.bias.data ** 2) / (2 * s ** 2)
    kl = dropout_kl(model, prior_sigma=s)
    assert kl.item() == pytest.approx(by_hand, rel=1e-14)
    kl.backward()
    assert np.allclose(second.weight.grad, second.weight.data / (s ** 2 * 0.8), rtol=1e-14)   # the formula
    assert np.allclose(first.bias.grad, first.bias.data / s ** 2, rtol=1e-14)

    def as_function(w1, b1, w2, b2):
        first.weight, first.bias, second.weight, second.bias = w1, b1, w2, b2
        return dropout_kl(model, prior_sigma=s)

    arrays = [p.data.copy() for p in (first.weight, first.bias, second.weight, second.bias)]
    assert mv.gradcheck(as_function, *arrays)                            # autodiff against central differences


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_a_rate_outside_zero_one_is_refused(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(p, rng=rng())


@pytest.mark.parametrize("p", [True, "0.1", None, np.array([0.1, 0.2])])
def test_a_rate_that_is_not_one_number_is_a_type_error(p):
    with pytest.raises(TypeError, match=r"Dropout: p must be one finite number in \[0, 1\)"):
        Dropout(p, rng=rng())


def test_other_bad_input_is_refused():
    with pytest.raises(TypeError, match="Generator"):
        Dropout(0.1, rng=0)
    with pytest.raises(ValueError, match="directly in front"):
        dropout_kl(mv.Sequential(Dropout(0.1, rng=rng()), mv.ReLU(), mv.Linear(2, 1, rng=rng())))
    with pytest.raises(TypeError, match="BayesLinear"):
        dropout_kl(mv.Sequential(mv.BayesLinear(2, 1, rng=rng())))
    with pytest.raises(ValueError, match="prior_sigma"):
        dropout_kl(mv.Sequential(mv.Linear(2, 1, rng=rng())), prior_sigma=0.0)
    with pytest.raises(TypeError, match="flat-weight view"):
        mv.flat.log_joint(mv.Sequential(Dropout(0.1, rng=rng()), mv.Linear(2, 1, rng=rng())),
                          np.ones((3, 2)), np.ones((3, 1)), noise_sigma=1.0)


def test_with_n_samples_the_sample_mode_draws_one_mask_per_entry_of_each_sample():
    x = np.ones((3, 2))
    out = Dropout(0.5, rng=rng(4))(x, n_samples=7).data
    expected = (rng(4).random((7, 3, 2)) < 0.5) / 0.5                   # the same draws by hand
    assert np.array_equal(out, expected)


def test_function_mode_without_n_samples_shares_one_mask_by_all_rows():
    x = np.ones((6, 4))
    out = Dropout(0.5, rng=rng(3))(x, mode="function").data
    expected = (rng(3).random((1, 4)) < 0.5) / 0.5
    assert out.shape == (6, 4) and np.array_equal(out, np.broadcast_to(expected, (6, 4)))


def test_one_axis_is_enough_and_zero_axes_are_refused():
    out = Dropout(0.5, rng=rng(9))(np.ones(4)).data
    assert np.array_equal(out, (rng(9).random(4) < 0.5) / 0.5)
    with pytest.raises(ValueError, match="at least one axis"):
        Dropout(0.5, rng=rng())(np.float64(2.0))


def test_dropout_kl_without_dropout_is_the_l2_penalty_with_prior_sigma_one_by_default():
    r = rng(10)
    first, second = mv.Linear(3, 4, rng=r), mv.Linear(4, 2, rng=r)
    model = mv.Sequential(first, mv.ReLU(), second, mv.Linear(2, 1, rng=r))   # no Dropout anywhere
    l2 = sum(np.sum(p.data ** 2) for p in model.parameters()) / 2
    assert dropout_kl(model).item() == pytest.approx(l2, rel=1e-14)
    assert dropout_kl(model, prior_sigma=2.0).item() == pytest.approx(l2 / 4, rel=1e-14)


# ---------------------------------------------------------------- an outside review's inputs


def weight_decay(layer, p, prior_sigma=1.0):
    """|W|² / (2 s² (1 - p)) + |b|² / (2 s²), by hand."""
    w, b = layer.weight.data, layer.bias.data
    return np.sum(w * w) / (2 * prior_sigma ** 2 * (1 - p)) + np.sum(b * b) / (2 * prior_sigma ** 2)


def test_two_dropouts_in_a_row_are_one_of_rate_one_minus_the_product_of_the_keeps():
    linear = mv.Linear(3, 2, rng=rng(3))
    model = mv.Sequential(Dropout(0.2, rng=rng(6)), Dropout(0.5, rng=rng(7)), linear)
    assert dropout_kl(model).item() == pytest.approx(weight_decay(linear, 1 - 0.8 * 0.5), rel=1e-14)
    x = np.ones((20000, 3))                                  # and that is the rate the masks have
    assert abs(np.mean(model.layers[1](model.layers[0](x)).data == 0) - 0.6) < 0.02


def test_a_linear_used_twice_counts_once_and_needs_one_rate():
    shared, last = mv.Linear(3, 3, rng=rng(4)), mv.Linear(3, 1, rng=rng(5))
    drop = Dropout(0.1, rng=rng())
    model = mv.Sequential(drop, shared, mv.Tanh(), drop, shared, mv.Tanh(), last)
    assert dropout_kl(model).item() == pytest.approx(weight_decay(shared, 0.1) + weight_decay(last, 0.0), rel=1e-14)
    other = mv.Sequential(drop, shared, mv.Tanh(), Dropout(0.3, rng=rng()), shared)
    with pytest.raises(ValueError, match="used twice.*0.1 and 0.3"):
        dropout_kl(other)


def test_a_dropout_hidden_in_another_module_or_a_model_that_is_no_module_is_refused():
    class Block(mv.Module):
        def __init__(self):
            self.drop = Dropout(0.5, rng=rng())

        def forward(self, x, *, mode, n_samples):
            return self.drop(x, mode=mode, n_samples=n_samples)

    with pytest.raises(TypeError, match="Block holds a Dropout"):
        dropout_kl(mv.Sequential(Block(), mv.Linear(2, 1, rng=rng())))
    with pytest.raises(TypeError, match="needs a minivi Module"):
        dropout_kl([mv.Linear(2, 1, rng=rng())])


def test_function_mode_gives_each_unit_of_an_image_row_its_own_mask_shared_by_the_rows():
    # (N, C, H, W): a row's units are its C·H·W entries. The mask varied along W only (shared by
    # channels and pixel rows), another q than the per-entry one training used.
    x = np.ones((3, 4, 5, 6))
    out = Dropout(0.5, rng=rng(10))(x, mode="function").data
    assert np.array_equal(out, np.broadcast_to((rng(10).random((1, 4, 5, 6)) < 0.5) / 0.5, x.shape))
    sampled = Dropout(0.5, rng=rng(11))(x, mode="function", n_samples=2).data
    assert sampled.shape == (2, 3, 4, 5, 6)
    assert np.array_equal(sampled, np.broadcast_to((rng(11).random((2, 1, 4, 5, 6)) < 0.5) / 0.5, sampled.shape))
    assert not np.array_equal(sampled[0, 0, 0], sampled[0, 0, 1])       # channels differ (p = 0.5, 30 units)

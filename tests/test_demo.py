"""The demo (`python -m minivi`, minivi/__main__.py) run in this process, so that its functions are the ones
tested: the command line, the network, the numbers it prints against each other, the figure, same seed
same output. (test_tutorials.py runs it end to end in a subprocess with its full 400 epochs.)"""
import copy
import functools
import re

import numpy as np
import pytest

import minivi as mv
from minivi import __main__ as demo


def run(capsys, tmp_path, *args):
    out = tmp_path / "sub" / "demo.png"
    code = demo.main(["--epochs", "2", "--out", str(out), *args])
    return code, out, capsys.readouterr().out


def printed_numbers(text):
    """{name: value} from the summary lines '  <name>   <value>'."""
    return {m.group(1).strip(): float(m.group(2)) for m in re.finditer(r"^  (.+?)\s+(-?\d+\.\d{4})$", text, re.M)}


def test_the_command_line_defaults_and_refusals():
    args = demo.parse_args([])
    assert (args.epochs, args.seed, args.out) == (demo.EPOCHS, 0, "figures/demo.png")
    args = demo.parse_args(["--epochs", "7", "--seed", "3", "--out", "x.png"])
    assert (args.epochs, args.seed, args.out) == (7, 3, "x.png")
    with pytest.raises(SystemExit):
        demo.parse_args(["--epochs", "0"])


def test_the_network_is_1_hidden_hidden_1_bayesian_with_relu():
    model = demo.build_model(np.random.default_rng(0))
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [mv.BayesLinear, mv.ReLU, mv.BayesLinear, mv.ReLU, mv.BayesLinear]
    sizes = [(layer.in_features, layer.out_features) for layer in model.layers if isinstance(layer, mv.BayesLinear)]
    assert sizes == [(1, demo.HIDDEN), (demo.HIDDEN, demo.HIDDEN), (demo.HIDDEN, 1)]


def test_the_demo_prints_consistent_numbers_and_writes_the_figure(capsys, tmp_path):
    code, out, text = run(capsys, tmp_path)
    assert code == 0
    first = text.splitlines()[0]
    assert f"{demo.HIDDEN}-{demo.HIDDEN}" in first and "200 points" in first and "seed 0" in first
    assert f"noise_sigma={demo.NOISE_SIGMA}" in first
    numbers = printed_numbers(text)
    assert len(numbers) == 7, numbers
    elbo, kl, nll = (numbers[k] for k in ("ELBO (100 samples, whole training set)", "KL[q || p]",
                                          "expected NLL, E_q[-log p(data|w)]"))
    assert elbo == pytest.approx(-(kl + nll), abs=2e-4)          # ELBO = -(KL + NLL), to the printed digits
    assert kl > 0 and numbers["test RMSE"] > 0
    on = numbers["epistemic std on the data, x in [0, 0.5]"]
    off = numbers["epistemic std off the data, x in [-0.5, -0.2] and [0.8, 1.2]"]
    assert numbers["off / on"] == pytest.approx(off / on, rel=1e-3, abs=1e-4)
    assert text.splitlines()[-1] == f"figure written to {out}"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def without_times(text):
    """The output without the elapsed times of fit's progress lines ('(0.0 s)'), which depend on the machine."""
    return re.sub(r"\(\d+\.\d s\)", "(time)", text)


def test_same_seed_same_output_another_seed_another(capsys, tmp_path):
    _, _, first = run(capsys, tmp_path)
    _, _, again = run(capsys, tmp_path)
    _, _, other = run(capsys, tmp_path, "--seed", "1")
    assert "(time)" in without_times(first) and without_times(first) == without_times(again)
    assert printed_numbers(first) != printed_numbers(other)


def test_summarise_measures_the_model_where_its_labels_say():
    # The same draws replayed on a copy: the ELBO's 100 samples, then 200 networks on the test set, on
    # 50 points of [0, 0.5] and on 25 + 25 points of [-0.5, -0.2] and [0.8, 1.2], in that order.
    rng = np.random.default_rng(2)
    model = demo.build_model(rng)
    x, y = mv.data.toy_curve(50, rng)
    x_test, y_test = mv.data.toy_curve(40, rng)
    twin = copy.deepcopy(model)
    numbers = demo.summarise(model, x, y, x_test, y_test)
    with mv.no_grad():
        _, info = mv.elbo_loss(twin, x, y, functools.partial(mv.gaussian_nll, noise_sigma=demo.NOISE_SIGMA),
                               len(x), n_samples=100, kl_weight=1.0)
    test_mean = mv.predict(twin, x_test, n_samples=200).mean(axis=0)
    std_on = mv.predict(twin, np.linspace(0.0, 0.5, 50)[:, None], n_samples=200).std(axis=0).mean()
    x_off = np.concatenate([np.linspace(-0.5, -0.2, 25), np.linspace(0.8, 1.2, 25)])[:, None]
    std_off = mv.predict(twin, x_off, n_samples=200).std(axis=0).mean()
    assert numbers["ELBO (100 samples, whole training set)"] == -info["loss"]
    assert (numbers["KL[q || p]"], numbers["expected NLL, E_q[-log p(data|w)]"]) == (info["kl"], info["nll"])
    assert numbers["KL[q || p]"] == pytest.approx(mv.kl_divergence(model).item(), rel=1e-12)
    assert numbers["test RMSE"] == np.sqrt(np.mean((test_mean - y_test) ** 2))
    assert numbers["epistemic std on the data, x in [0, 0.5]"] == std_on
    assert numbers["epistemic std off the data, x in [-0.5, -0.2] and [0.8, 1.2]"] == std_off
    assert numbers["off / on"] == std_off / std_on


def test_the_figure_shows_the_band_where_the_data_are_and_the_training_curves(monkeypatch, tmp_path):
    saved = []
    monkeypatch.setattr(demo.plots, "save", lambda fig, path: saved.append(fig) or path)
    rng = np.random.default_rng(3)
    model = demo.build_model(rng)
    x, y = mv.data.toy_curve(20, rng)
    history = mv.train.History(loss=[3.0, 2.0], kl=[1.0, 1.0], nll=[2.0, 1.0])
    assert demo.draw(model, history, x, y, tmp_path / "f.png") == tmp_path / "f.png"
    left, right = saved[0].axes
    assert left.get_title() == "Bayes by Backprop: the predictive widens away from the data"
    assert left.get_ylim() == (-1.5, 2.0)
    shaded = [p for p in left.patches if p.get_label() == "where the data are"]
    assert len(shaded) == 1 and shaded[0].get_x() == demo.ON_DATA[0] and shaded[0].get_width() == demo.ON_DATA[1]
    assert right.get_yscale() == "symlog"
    assert [line.get_label() for line in right.get_lines()] == ["loss = negative ELBO", "KL[q || p]", "NLL (data term)"]

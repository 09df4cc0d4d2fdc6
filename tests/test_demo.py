"""The demo (`python -m minivi`, minivi/__main__.py) run in this process, so that its functions are the ones
tested: the command line, the network, the numbers it prints against each other, the figure, same seed
same output. (test_tutorials.py runs it end to end in a subprocess with its full 400 epochs.)"""
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
                                          "expected NLL, E_q[-log p(D|w)]"))
    assert elbo == pytest.approx(-(kl + nll), abs=2e-4)          # ELBO = -(KL + NLL), to the printed digits
    assert kl > 0 and numbers["test RMSE"] > 0
    on = numbers["epistemic std on the data, x in [0, 0.5]"]
    off = numbers["epistemic std off the data, x in [-0.5, -0.2] and [0.8, 1.2]"]
    assert numbers["off / on"] == pytest.approx(off / on, rel=1e-3, abs=1e-4)
    assert text.splitlines()[-1] == f"figure written to {out}"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_same_seed_same_output_another_seed_another(capsys, tmp_path):
    _, _, first = run(capsys, tmp_path)
    _, _, again = run(capsys, tmp_path)
    _, _, other = run(capsys, tmp_path, "--seed", "1")
    assert first == again and printed_numbers(first) != printed_numbers(other)


def test_summarise_measures_the_trained_model_on_the_data_given():
    rng = np.random.default_rng(2)
    model = demo.build_model(rng)
    x, y = mv.data.toy_curve(50, rng)
    x_test, y_test = mv.data.toy_curve(40, rng)
    numbers = demo.summarise(model, x, y, x_test, y_test)
    test_mean = mv.predict(model, x_test, n_samples=200).mean(axis=0)
    # the RMSE is taken on the test set, with the mean of 200 predictive draws (new draws: the same scale)
    assert numbers["test RMSE"] == pytest.approx(np.sqrt(np.mean((test_mean - y_test) ** 2)), rel=0.2)
    assert numbers["ELBO (100 samples, whole training set)"] == pytest.approx(
        -(numbers["KL[q || p]"] + numbers["expected NLL, E_q[-log p(D|w)]"]), rel=1e-12)
    assert numbers["KL[q || p]"] == pytest.approx(mv.kl_divergence(model).item(), rel=1e-12)

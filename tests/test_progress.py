"""What `fit` and `fit_full_cov` print while they train: which epochs (steps), what numbers, where the lines end.

`fit` prints one progress line per report: the epoch, its summed loss, the
KL part (loss - NLL), the NLL and the KL at the epoch's last step, all taken
from the History it returns. In a terminal the reports overwrite one live
line ("\\r", no newline) and a newline closes it at the end; elsewhere (logs,
notebooks, these tests) each report is a line of its own, by default 10 in all.
A terminal is faked with a stream whose isatty() is True.
"""
import functools
import io
import re
import sys

import numpy as np
import pytest

import minivi as mv

NLL = functools.partial(mv.gaussian_nll, noise_sigma=0.5)
SECONDS = re.compile(r"  \((\d+\.\d) s\)$")


class FakeTerminal(io.StringIO):
    """stdout as a terminal: fit then draws one live line."""

    def isatty(self):
        return True


def small_problem(seed=0):
    rng = np.random.default_rng(seed)
    model = mv.Sequential(mv.BayesLinear(1, 2, rng=rng), mv.Tanh(), mv.BayesLinear(2, 1, rng=rng))
    x = rng.normal(size=(8, 1))
    return model, x, np.sin(x)


def run_fit(epochs, **kwargs):
    model, x, y = small_problem()
    return mv.fit(model, x, y, NLL, epochs=epochs, batch_size=4, rng=np.random.default_rng(1), **kwargs)


def expected_line(history, epoch, epochs):
    """The report of epoch `epoch` (from 1), without its time, from the History's numbers of that epoch."""
    loss, nll, kl = history.loss[epoch - 1], history.nll[epoch - 1], history.kl[epoch - 1]
    width = len(str(epochs))
    return (f"epoch {epoch:>{width}}/{epochs}  loss {loss:11.4f} = KL part {loss - nll:10.4f} + "
            f"NLL {nll:11.4f}   KL at the last step {kl:10.4f}")


def split_reports(text):
    """Each report without its "(t s)" ending; the times must be sane (seconds since the start)."""
    reports = []
    for line in text:
        match = SECONDS.search(line)
        assert match, f"no time at the end of {line!r}"
        assert 0.0 <= float(match.group(1)) < 600.0
        reports.append(line[:match.start()])
    return reports


@pytest.mark.parametrize("epochs, print_every, printed", [
    (20, None, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20]),     # not a terminal: 10 lines in all
    (25, None, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]),   # every 25 // 10 = 2, and the last
    (5, None, [1, 2, 3, 4, 5]),                             # fewer than 10 epochs: every one
    (7, 3, [3, 6, 7]),                                      # every 3rd, and the last
    (4, 4, [4]),
])
def test_fit_prints_the_chosen_epochs_each_with_its_own_numbers(capsys, epochs, print_every, printed):
    history = run_fit(epochs, print_every=print_every)
    captured = capsys.readouterr()
    assert "\r" not in captured.out and captured.err == ""
    assert captured.out.endswith("\n") and not captured.out.endswith("\n\n")   # no extra closing newline
    assert split_reports(captured.out.splitlines()) == [expected_line(history, e, epochs) for e in printed]


def test_fit_pads_the_epoch_number_to_the_width_of_the_total(capsys):
    history = run_fit(12, print_every=3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch  3/12  loss ") and lines[-1].startswith("epoch 12/12  loss ")
    assert split_reports(lines)[0] == expected_line(history, 3, 12)


def test_the_kl_part_is_the_loss_minus_the_nll_and_differs_from_the_last_kl(capsys):
    """The two KL numbers of a line are different quantities (History's docstring): both shown, each its own."""
    history = run_fit(2, print_every=1)
    line = capsys.readouterr().out.splitlines()[1]
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d{4}", line)]
    assert numbers == pytest.approx([history.loss[1], history.loss[1] - history.nll[1], history.nll[1],
                                     history.kl[1]], abs=6e-5)
    assert abs((history.loss[1] - history.nll[1]) - history.kl[1]) > 1e-3   # so a swap would show


def test_fit_prints_by_default(capsys):
    run_fit(3)
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_fit_prints_nothing_when_not_verbose_even_in_a_terminal(capsys, monkeypatch):
    run_fit(3, verbose=False)
    assert capsys.readouterr().out == ""
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    run_fit(3, verbose=False)
    assert terminal.getvalue() == ""


def test_in_a_terminal_fit_redraws_one_live_line_every_epoch_and_closes_it(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    history = run_fit(25)     # 25 epochs: in a terminal every epoch is shown by default (in a log, every 2nd)
    text = terminal.getvalue()
    assert text.startswith("\r") and text.endswith(")\n") and text.count("\n") == 1
    reports = split_reports(text[1:-1].split("\r"))
    assert reports == [expected_line(history, e, 25) for e in range(1, 26)]


def test_in_a_terminal_print_every_still_chooses_the_epochs(monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    history = run_fit(5, print_every=2)
    text = terminal.getvalue()
    assert text.endswith("\n") and text.count("\n") == 1
    assert split_reports(text[1:-1].split("\r")) == [expected_line(history, e, 5) for e in (2, 4, 5)]


# ---------------------------------------------------------------- fit_full_cov's verbose line


def log_likelihood(w):
    """A Gaussian log-likelihood of the flat weights: -Σ (w - 1)² / 2 (any smooth function of w would do)."""
    return ((w - 1.0) ** 2).sum() * -0.5


def run_fit_full_cov(n_steps, **kwargs):
    q = mv.FullCovGaussian(np.zeros(2), rng=np.random.default_rng(0))
    return mv.fit_full_cov(log_likelihood, q, n_steps=n_steps, **kwargs)


def full_cov_line(history, step, n_steps):
    return (f"step {step}/{n_steps}  loss {history.loss[step - 1]:.4f}  KL {history.kl[step - 1]:.4f}  "
            f"NLL {history.nll[step - 1]:.4f}")


def test_fit_full_cov_is_quiet_by_default(capsys):
    run_fit_full_cov(5)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("n_steps, print_every, printed", [
    (30, None, [3, 6, 9, 12, 15, 18, 21, 24, 27, 30]),     # by default 10 lines: every 30 // 10 = 3
    (25, None, [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]),   # and the last step
    (4, None, [1, 2, 3, 4]),
    (7, 3, [3, 6, 7]),
])
def test_fit_full_cov_verbose_prints_the_chosen_steps_with_their_numbers(capsys, n_steps, print_every, printed):
    history = run_fit_full_cov(n_steps, verbose=True, print_every=print_every)
    out = capsys.readouterr().out
    assert out.splitlines() == [full_cov_line(history, s, n_steps) for s in printed]
    assert out.endswith("\n") and not out.endswith("\n\n")


class FlushCounter(io.StringIO):
    """A stream that counts flush() calls: a line that is flushed appears at once in a log being followed."""

    def __init__(self):
        super().__init__()
        self.flushes = 0

    def flush(self):
        self.flushes += 1
        super().flush()


@pytest.mark.parametrize("terminal", [False, True])
def test_every_progress_line_of_fit_is_flushed_at_once(monkeypatch, terminal):
    stream = FlushCounter()
    stream.isatty = lambda: terminal
    monkeypatch.setattr(sys, "stdout", stream)
    run_fit(4, print_every=1)
    assert stream.flushes >= 4 and stream.getvalue().count("epoch ") == 4


def test_every_verbose_line_of_fit_full_cov_is_flushed_at_once(monkeypatch):
    stream = FlushCounter()
    monkeypatch.setattr(sys, "stdout", stream)
    run_fit_full_cov(3, verbose=True, print_every=1)
    assert stream.flushes >= 3 and stream.getvalue().count("step ") == 3

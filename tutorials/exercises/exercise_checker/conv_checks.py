"""Checks for exercise 11: the backward of a 2-D convolution (col2im for dF/dx, G_colᵀ col(x) for dF/dW).

Ground truth, written here independently of the student's file and of
minivi/conv.py: the forward y[n, o, i, j] = Σ W[o, c, a, e] xp[n, c, s·i + a, s·j + e]
as a loop over the output pixels, its gradients as the same loop (each window
(i, j) adds G[:, :, i, j]·W onto its patch of dF/dxp, and G[:, :, i, j]·patch onto
dF/dW), and central differences of F = Σ G ∘ y, which is linear in x and in W
(so the differences are exact up to rounding).

The diagnosis runs the student's function on 7 random cases (1 to 3 images,
1 to 3 channels in and out, kernels from 1×1 to 4×3, strides 1 to 3 below,
at and above the kernel size, padding 0 to 2) and compares each result with
the right gradient computed under every combination of the usual slips:

  grad_x:      the kernel turned by 180° (a full convolution with the flip
               wrong), the kernel's channel axes exchanged (W[o, c] read as
               W[c, o]), the scatter at stride 1, the padding not cut off or
               cut from the wrong place, and overlapping contributions kept
               one at a time (any order) instead of added;
  grad_weight: the kernel turned, its channel axes exchanged, the windows at
               stride 1, and the batch not summed (one image's term, or one
               kernel gradient per image) or averaged.

A combination that matches on every case where it is defined names its
slips (several at once give several hints), and the report says what the
student's numbers equal. The two results returned in the wrong order are
recognised too (either gradient in the other's place). A mistake outside these gets the formula as its
hint.
"""
import functools
import itertools

import numpy as np

from .core import Diagnosis, Failure, _student_frame, as_tuple, exercise, function, matches, matrix_lines, number

# Tolerances. Every gradient entry is a sum of at most a few hundred products of numbers below ~4: a
# right answer differs from the loops below by rounding, ~1e-14 absolute, so atol 1e-10 and rtol 1e-10.
# F = Σ G ∘ y is linear in x and in W, so central differences with step 1 have no truncation error; their
# rounding is that of F (~1e-13 here), halved: atol 1e-9.
RTOL, ATOL = 1e-10, 1e-10
FD_ATOL = 1e-9

EX11 = exercise(11, "conv", "ex11_conv_backward.py",
                "the backward of a 2-D convolution: col2im for the image's gradient, G_colᵀ col(x) for the kernel's",
                ("conv2d_backward",))


# ---------------------------------------------------------------- ground truth


def pad(x, p):
    """xp: x with p zeros added on every side of its last two axes."""
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def out_size(size, kernel, s, p):
    return (size + 2 * p - kernel) // s + 1


def conv_loop(x, w, s, p):
    """y[n, o, i, j] = Σ_{c, a, e} W[o, c, a, e] xp[n, c, s·i + a, s·j + e], one output pixel at a time."""
    xp, (kh, kw) = pad(x, p), w.shape[-2:]
    oh, ow = out_size(x.shape[2], kh, s, p), out_size(x.shape[3], kw, s, p)
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = np.einsum("ncae,ocae->no", xp[:, :, s * i:s * i + kh, s * j:s * j + kw], w)
    return y


def true_grads(x, w, g, s, p):
    """(dF/dx, dF/dW): each window (i, j) sends G[:, :, i, j] back along the products it made."""
    xp, (kh, kw) = pad(x, p), w.shape[-2:]
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            rows, cols = slice(s * i, s * i + kh), slice(s * j, s * j + kw)
            dxp[:, :, rows, cols] += np.einsum("no,ocae->ncae", g[:, :, i, j], w)
            dw += np.einsum("no,ncae->ocae", g[:, :, i, j], xp[:, :, rows, cols])
    h, wd = x.shape[2:]
    return dxp[:, :, p:p + h, p:p + wd], dw


def case(seed, n, c_in, c_out, h, w, kh, kw, s, p):
    """Random x, W and grad_out (the shape of y) for these sizes: a dict the checks and the probes share."""
    rng = np.random.default_rng(seed)
    x, weight = rng.normal(size=(n, c_in, h, w)), rng.normal(size=(c_out, c_in, kh, kw))
    g = rng.normal(size=(n, c_out, out_size(h, kh, s, p), out_size(w, kw, s, p)))
    return {"x": x, "weight": weight, "grad_out": g, "stride": s, "padding": p}


def describe(c) -> str:
    n, c_in, h, w = c["x"].shape
    c_out, _, kh, kw = c["weight"].shape
    return (f"N = {n}, C_in = {c_in}, C_out = {c_out}, {h}×{w} images, {kh}×{kw} kernel, "
            f"stride {c['stride']}, padding {c['padding']}")


def _call(m, c) -> tuple:
    """The student's (grad_x, grad_weight) on case c, on copies of the inputs."""
    got = function(m, "conv2d_backward")(c["x"].copy(), c["weight"].copy(), c["grad_out"].copy(),
                                         c["stride"], c["padding"])
    return as_tuple(got, ("grad_x", "grad_weight"), "conv2d_backward")


def _grads(m, c) -> tuple:
    """_call, and when the student's code raises, a Failure that also names the slips the probes recognise."""
    try:
        return _call(m, c)
    except (Failure, NotImplementedError):
        raise
    except Exception as error:   # e.g. a kernel read with its channel axes exchanged breaks when C_in ≠ C_out
        found = safe_probe(m)
        raise Failure([f"checked: conv2d_backward on {describe(c)}", f"your code raised {type(error).__name__}: {error}",
                       *_student_frame(error, m)], [*found, "raised"] if found else ["raised"]) from None


# ---------------------------------------------------------------- the probes and the slips they tell apart

PROBE_SIZES = [  # (N, C_in, C_out, H, W, kH, kW, stride, padding): strides below, at and above the kernel
    (2, 2, 3, 5, 6, 3, 2, 1, 1), (3, 3, 3, 6, 5, 2, 3, 1, 0), (2, 1, 2, 7, 7, 3, 3, 2, 1),
    (2, 2, 2, 8, 7, 3, 2, 2, 2), (3, 2, 1, 6, 6, 2, 2, 2, 0), (2, 3, 2, 9, 8, 4, 3, 3, 1),
    (2, 1, 3, 5, 5, 1, 1, 2, 1)]
PROBES = [case(200 + k, *sizes) for k, sizes in enumerate(PROBE_SIZES)]
PROBE_RANGE = (f"{len(PROBES)} random cases (1 to 3 images, 1 to 3 channels, kernels 1×1 to 4×3, "
               "strides 1 to 3, padding 0 to 2)")

CROPS = ("centre", "none", "corner", "one side")


def crop(dxp, p, crop_mode):
    """The part of dF/dxp a student returns: the centre (right), all of it, a corner, or one side cut."""
    h, w = dxp.shape[-2] - 2 * p, dxp.shape[-1] - 2 * p
    return {"centre": dxp[..., p:p + h, p:p + w], "none": dxp, "corner": dxp[..., :h, :w],
            "one side": dxp[..., p:, p:]}[crop_mode]


@functools.lru_cache(maxsize=None)
def contributions(k, flip, swap, unit_stride):
    """Each kernel offset's share of dF/dxp on probe k, (kH, kW, N, C_in, Hp, Wp), NaN where it reaches no pixel.

    flip: the kernel turned by 180°; swap: W[o, c] read as W[c, o] (None unless C_in = C_out);
    unit_stride: each offset's terms placed at stride 1, whatever the stride.
    """
    c = PROBES[k]
    w, g, s, p = c["weight"], c["grad_out"], c["stride"], c["padding"]
    if flip:
        w = w[:, :, ::-1, ::-1]
    if swap:
        if w.shape[0] != w.shape[1]:
            return None
        w = w.transpose(1, 0, 2, 3)
    kh, kw = w.shape[2:]
    n, _, hp, wp = pad(c["x"], p).shape
    oh, ow = g.shape[2:]
    step = 1 if unit_stride else s
    terms = np.einsum("noij,ocae->aencij", g, w)
    out = np.full((kh, kw, n, w.shape[1], hp, wp), np.nan)
    for a in range(kh):
        for e in range(kw):
            out[a, e, :, :, a:a + step * oh:step, e:e + step * ow:step] = terms[a, e]
    return out


def overwrites(got, parts) -> bool:
    """True if every pixel of got holds ONE offset's share (0 where none reaches it), as `=` in place of `+=`."""
    none = np.all(np.isnan(parts), axis=(0, 1))
    one = np.any(np.abs(parts - got) <= ATOL + 1e-8 * np.abs(got), axis=(0, 1))
    return bool(np.all(np.where(none, np.abs(got) <= ATOL, one)))


X_SLIPS = {  # flag -> (hint key, what the student's grad_x equals)
    "flip": ("conv-kernel-flip", "the kernel turned by 180° (every W[o, c] flipped up-down and left-right)"),
    "swap": ("conv-input-grad-channels-swapped", "the kernel's channel axes exchanged (W[o, c] read as W[c, o]; "
                                                 "your code cannot run when C_in ≠ C_out)"),
    "unit_stride": ("conv-scatter-stride-ignored", "every window's terms placed at stride 1, whatever the stride"),
    "none": ("conv-padding-not-cropped", "the gradient of the whole PADDED image returned (H + 2p by W + 2p)"),
    "corner": ("conv-padding-cropped-wrong", "the H × W block cut from the top left corner of the padded gradient"),
    "one side": ("conv-padding-cropped-wrong", "the padding cut off on the top and left sides only"),
    "overwrite": ("conv-overlaps-overwritten", "at each pixel ONE window's term kept, not the sum over the "
                                               "windows that overlap there (right where none overlap)"),
}


def grad_x_candidates():
    """Every combination of the grad_x slips: (flags, a function case, got -> bool), the right one first."""
    for flip, swap, unit_stride, crop_mode, overwrite in itertools.product(
            (False, True), (False, True), (False, True), CROPS, (False, True)):
        flags = [name for name, on in (("flip", flip), ("swap", swap), ("unit_stride", unit_stride),
                                       (crop_mode, crop_mode != "centre"), ("overwrite", overwrite)) if on]
        yield flags, dict(flip=flip, swap=swap, unit_stride=unit_stride), crop_mode, overwrite


def grad_x_matches(got, parts, p, crop_mode, overwrite) -> bool:
    cropped = crop(parts, p, crop_mode)
    if got.shape != cropped.shape[2:]:
        return False
    return overwrites(got, cropped) if overwrite else matches(got, np.nansum(cropped, axis=(0, 1)))


@functools.lru_cache(maxsize=None)
def weight_candidate(k, flip, swap, unit_stride, batch):
    """dF/dW under the slips: flip, swap (channel axes exchanged), windows at stride 1, and the batch
    'sum' (right), 'mean', 'stack' (one kernel gradient per image), 'first' or 'last' (one image's term)."""
    c = PROBES[k]
    x, g, s, p = c["x"], c["grad_out"], c["stride"], c["padding"]
    kh, kw = c["weight"].shape[2:]
    xp, step = pad(x, p), (1 if unit_stride else s)
    oh, ow = g.shape[2:]
    windows = np.stack([np.stack([xp[:, :, a:a + step * oh:step, e:e + step * ow:step] for e in range(kw)], -1)
                        for a in range(kh)], -2)                              # (N, C_in, OH, OW, kH, kW)
    if windows.shape[2:4] != (oh, ow):
        return None
    per_image = np.einsum("noij,ncijae->nocae", g, windows)
    dw = {"sum": per_image.sum(0), "mean": per_image.mean(0), "stack": per_image, "first": per_image[0],
          "last": per_image[-1]}[batch]
    if flip:
        dw = dw[..., ::-1, ::-1]
    return np.swapaxes(dw, -4, -3) if swap else dw


W_SLIPS = {
    "flip": ("conv-weight-flipped", "the kernel gradient turned by 180°"),
    "swap": ("conv-weight-grad-channels-swapped", "its two channel axes exchanged: shape "
                                                  "(C_in, C_out, kH, kW), not (C_out, C_in, kH, kW)"),
    "unit_stride": ("conv-weight-stride-ignored", "the windows taken at stride 1, whatever the stride"),
    "mean": ("conv-weight-batch-averaged", "the MEAN of the N images' terms taken, not their sum"),
    "stack": ("conv-weight-batch-not-summed", "one kernel gradient per image, shape (N, C_out, C_in, kH, kW): "
                                              "the N images' terms not added"),
    "first": ("conv-weight-batch-not-summed", "the term of the FIRST image of the batch only, not the sum over "
                                              "the N images"),
    "last": ("conv-weight-batch-not-summed", "the term of the LAST image of the batch only, not the sum over "
                                             "the N images (a loop over the images that overwrites)"),
}


def weight_candidates():
    for flip, swap, unit_stride, batch in itertools.product(
            (False, True), (False, True), (False, True), ("sum", "mean", "stack", "first", "last")):
        flags = [name for name, on in (("flip", flip), ("swap", swap), ("unit_stride", unit_stride)) if on]
        flags += [] if batch == "sum" else [batch]
        yield flags, dict(flip=flip, swap=swap, unit_stride=unit_stride, batch=batch)


def _all_match(results, predicate) -> bool:
    """predicate(result, k) on probe k is True (match), False, or None (the slip is undefined on that probe: skipped);
    True on every probe where it is defined, and defined on at least two."""
    verdicts = [predicate(r, k) for k, r in enumerate(results)]
    defined = [v for v in verdicts if v is not None]
    return len(defined) >= 2 and all(defined)


def _diagnose_grad_x(results) -> list | None:
    def predicate_for(settings, crop_mode, overwrite):
        def predicate(result, k):
            parts = contributions(k, **settings)
            if parts is None:
                return None
            return result is not None and grad_x_matches(result[0], parts, PROBES[k]["padding"], crop_mode, overwrite)
        return predicate

    for flags, settings, crop_mode, overwrite in grad_x_candidates():
        if _all_match(results, predicate_for(settings, crop_mode, overwrite)):
            return flags
    return None


def _diagnose_grad_weight(results) -> list | None:
    def predicate_for(settings):
        def predicate(result, k):
            expected = weight_candidate(k, **settings)
            if expected is None:
                return None
            return result is not None and matches(result[1], expected)
        return predicate

    for flags, settings in weight_candidates():
        if _all_match(results, predicate_for(settings)):
            return flags
    return None


@functools.lru_cache(maxsize=None)
def probe_truth(k) -> tuple:
    c = PROBES[k]
    return true_grads(c["x"], c["weight"], c["grad_out"], c["stride"], c["padding"])


def _swapped_outputs(results) -> list:
    """Which of the two results is the OTHER gradient on every probe: dF/dW first, dF/dx second, or both."""
    pairs = [(r, probe_truth(k)) for k, r in enumerate(results) if r is not None]
    if len(pairs) < 2:
        return []
    found = []
    if all(matches(r[0], dw) for r, (dx, dw) in pairs):
        found.append("your first result (grad_x's place) is dF/dW")
    if all(matches(r[1], dx) for r, (dx, dw) in pairs):
        found.append("your second result (grad_weight's place) is dF/dx")
    return found


def probe(m) -> Diagnosis:
    """The slips the student's conv2d_backward shows on the probe cases, and what its results equal."""
    results = []
    for c in PROBES:
        try:
            results.append(_call(m, c))
        except NotImplementedError:
            raise
        except Exception:   # a slip such as exchanged channel axes raises on some shapes only
            results.append(None)
    swapped = _swapped_outputs(results)
    keys = ["conv-grads-swapped"] if swapped else []
    lines = [f"on {PROBE_RANGE}, " + " and ".join(swapped)] if swapped else []
    for which, flags, slips in (("grad_x", _diagnose_grad_x(results), X_SLIPS),
                                ("grad_weight", _diagnose_grad_weight(results), W_SLIPS)):
        if flags:
            keys += [slips[f][0] for f in flags]
            lines += [f"on {PROBE_RANGE}, your {which} is the right one with"] + [f"  - {slips[f][1]}" for f in flags]
    return Diagnosis(list(dict.fromkeys(keys)), lines)


def safe_probe(m) -> Diagnosis:
    """probe(m), or nothing if the probe itself cannot run the student's code."""
    try:
        return probe(m)
    except Exception:
        return Diagnosis()


# ---------------------------------------------------------------- comparing one result


def _compare(got, expected, c, *, which: str, truth: str, generic: str, m) -> None:
    """Raise Failure unless got equals expected to rounding; the report names the slips the probes find."""
    what = f"conv2d_backward(x, weight, grad_out, stride={c['stride']}, padding={c['padding']}): {which}"
    lines = [f"checked: {what}", f"on {describe(c)}"]
    if got.shape != expected.shape:
        found = safe_probe(m)
        raise Failure(lines + [f"expected {which} of shape {expected.shape} ({'x' if which == 'grad_x' else 'weight'}'s "
                               f"shape), got shape {got.shape}"], found or ["shape"])
    excess = np.abs(got - expected) - (ATOL + RTOL * np.abs(expected))
    excess = np.where(np.isnan(excess), np.inf, excess)
    if np.all(excess <= 0):
        return
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    lines.append(f"{int(np.sum(excess > 0))} of {got.size} entries are wrong; the worst is entry "
                 f"{tuple(int(i) for i in worst)}")
    if got.shape[:2] == (1, 1):   # one image and one channel: show the whole matrices
        lines += matrix_lines(f"expected   ({truth})", expected[0, 0]) + matrix_lines("got", got[0, 0])
    else:
        lines += [f"expected {number(expected[worst])}   ({truth})", f"got      {number(got[worst])}"]
    found = safe_probe(m)
    raise Failure(lines, found or [generic])


LOOP_TRUTH = "the sums over the windows, written as a loop over the output pixels"


def _check_case(m, c, *, grad_x=True, grad_weight=True, truth=LOOP_TRUTH):
    got_x, got_w = _grads(m, c)
    dx, dw = true_grads(c["x"], c["weight"], c["grad_out"], c["stride"], c["padding"])
    if grad_x:
        _compare(got_x, dx, c, which="grad_x", truth=truth, generic="conv-grad-x-formula", m=m)
    if grad_weight:
        _compare(got_w, dw, c, which="grad_weight", truth=truth, generic="conv-grad-weight-formula", m=m)


# ---------------------------------------------------------------- the checks

# Worked by hand: one 3×3 image, the 2×2 kernel [[1, 2], [3, 4]], stride 1, no padding, G = 1 on all four
# outputs. dF/dx[h, w] adds W[a, e] over the windows covering (h, w): the centre is in all four windows
# (1 + 2 + 3 + 4 = 10), a corner in one. dF/dW[a, e] adds x over the windows' entry (a, e).
HAND = {"x": np.arange(1.0, 10.0).reshape(1, 1, 3, 3), "weight": np.array([[[[1.0, 2.0], [3.0, 4.0]]]]),
        "grad_out": np.ones((1, 1, 2, 2)), "stride": 1, "padding": 0}


@EX11.check("grad_x worked by hand: one 3×3 image, kernel [[1, 2], [3, 4]], stride 1, G = 1 (overlapping windows)")
def _hand_grad_x(m):
    _check_case(m, HAND, grad_weight=False,
                truth="[[1, 3, 2], [4, 10, 6], [3, 7, 4]]: each pixel adds W[a, e] over the windows covering it")


@EX11.check("grad_weight worked by hand: the same case, dF/dW[a, e] = Σ_{i, j} x[i + a, j + e]")
def _hand_grad_weight(m):
    _check_case(m, HAND, grad_x=False,
                truth="[[12, 16], [24, 28]]: each kernel entry adds the pixels it met in the four windows")


@EX11.check("both, stride = kernel size (windows side by side, no overlap), 2 images, C_in = 2, C_out = 3, padding 1")
def _no_overlap(m):
    _check_case(m, case(11, 2, 2, 3, 6, 7, 2, 2, 2, 1))


@EX11.check("grad_x on strides smaller than the kernel (overlapping windows) and paddings 0 to 2")
def _overlapping_grad_x(m):
    for sizes in ((2, 2, 2, 7, 6, 3, 3, 1, 1), (3, 1, 2, 9, 8, 3, 2, 2, 2), (2, 3, 1, 10, 9, 4, 4, 3, 0)):
        _check_case(m, case(12, *sizes), grad_weight=False)


@EX11.check("grad_weight on batches of 2 and 3 images, strides 1 to 3, paddings 0 to 2")
def _batched_grad_weight(m):
    for sizes in ((3, 2, 2, 7, 6, 3, 3, 1, 1), (2, 1, 3, 9, 8, 3, 2, 2, 2), (3, 3, 2, 10, 9, 2, 2, 3, 1)):
        _check_case(m, case(13, *sizes), grad_x=False)


def central_differences(c):
    """dF/dx and dF/dW of F = Σ G ∘ conv(x, W) by central differences with step 1 (F is linear: exact).

    Every entry's two nudged inputs go through the forward loop at once: the nudged images as one batch
    (x.size copies of the N images), the nudged kernels as one bank of kernels (w.size copies of the C_out).
    """
    x, w, g, s, p = c["x"], c["weight"], c["grad_out"], c["stride"], c["padding"]
    nudges = {name: np.eye(a.size).reshape((a.size,) + a.shape) for name, a in (("x", x), ("w", w))}
    grads = []
    for sign in (1.0, -1.0):
        images = (x + sign * nudges["x"]).reshape((-1,) + x.shape[1:])
        f_x = np.einsum("knoij,noij->k", conv_loop(images, w, s, p).reshape((x.size,) + g.shape), g)
        kernels = (w + sign * nudges["w"]).reshape((-1,) + w.shape[1:])
        y = conv_loop(x, kernels, s, p).reshape((g.shape[0], w.size) + g.shape[1:])
        grads.append((f_x, np.einsum("nkoij,noij->k", y, g)))
    (fx_plus, fw_plus), (fx_minus, fw_minus) = grads
    return ((fx_plus - fx_minus).reshape(x.shape) / 2.0, (fw_plus - fw_minus).reshape(w.shape) / 2.0)


@EX11.check("both against central differences of F = Σ grad_out ∘ conv2d(x, W): y = W · col(x) is linear in each")
def _central_differences(m):
    c = case(14, 2, 2, 3, 5, 6, 3, 2, 2, 1)
    got_x, got_w = _grads(m, c)
    dx, dw = central_differences(c)
    truth = "central differences of F, step 1 (exact for a linear F)"
    for which, got, expected, generic in (("grad_x", got_x, dx, "conv-grad-x-formula"),
                                          ("grad_weight", got_w, dw, "conv-grad-weight-formula")):
        if got.shape == expected.shape and np.all(np.abs(got - expected) <= FD_ATOL):
            continue
        _compare(got, expected, c, which=which, truth=truth, generic=generic, m=m)

"""Guided feature inversion (Du, Liu, Song, Hu, KDD 2018, "Towards Explanation of DNN-based
Prediction with Guided Feature Inversion"), both stages.

The mask is a non-negative combination of the channels of a filter layer l1:
``m = Upsample(minmax(sum_i w_i f_i^{l1}(x)))``; the image is blended with a blurred copy
``p``: ``Phi = x*m + p*(1-m)`` and ``Phi_bg = x*(1-m) + p*m``.

- Stage 1 (Algorithm 1, class-agnostic salient object): minimise
  ``||f^{l0}(Phi) - f^{l0}(x)||^2 + gamma*||w||_1`` for 10 Adam steps (lr 1e-2, w init 0.1,
  w clipped at 0 after each step).
- Stage 2 (Algorithm 2, class-discriminative): from the stage-1 w, minimise
  ``-f_c(Phi) + lambda*f_c(Phi_bg) + delta*||w||_1`` for 70 Adam steps, the learning rate
  halved every 10 steps; f_c is the softmax probability of class c (the paper's choice;
  ``score="logit"`` uses the logit).

Beyond the paper, l1 may be a hypercolumn of several layers (``l1="block3_conv2+last_conv"``):
their channels, resized to the finest grid and balanced per layer, all enter the same w; and
``power=k`` raises the stage-2 mask to the k-th power (a sharper, more nearly binary mask).

Every image in a batch has its own w and its own Adam state; the whole optimisation runs
inside one `tf.function` (a `tf.while_loop`), with no Python work per step.

One safeguard the paper does not need to state: Adam moves every weight by about ``lr``
per step, so when the L1 gradient outweighs the inversion gradient for all channels (a
small network whose features carry less energy than VGG-19's pool5), all weights reach 0
together after ``init / lr`` steps and the min-max mask becomes 0/0. A step that would zero
every weight of an image is not taken for that image. gamma and delta balance the L1 term
against the feature energy of the model at hand; tune them on held-out data as the paper
did (see configs/localization_clutter64.toml).
"""

from __future__ import annotations

import tensorflow as tf

from tfinterp.checks import check_images
from tfinterp.errors import UserError
from tfinterp.explain.base import Explainer, gather_target, normalize_maps, register
from tfinterp.ops.image import gaussian_blur
from tfinterp.ops.optim import adam_minimize
from tfinterp.params import Param


def _layer_names(l1) -> list[str]:
    """'a+b' or ['a', 'b'] -> ['a', 'b']."""
    return [str(n).strip() for n in (l1.split("+") if isinstance(l1, str) else l1)]


def _distinct_layers(l1) -> bool:
    names = _layer_names(l1)
    return bool(names) and all(names) and len(set(names)) == len(names)


@register("guided-inversion")
class GuidedInversion(Explainer):
    """Guided feature inversion (Du et al. 2018): stage 1 + class-discriminative stage 2.

    Parameters (paper defaults): ``l0="pool5"`` inversion layer, ``l1="last_conv"`` filter
    layer (VGG-19's conv5_4), ``gamma=10``, ``lam=1``, ``delta=1``, ``steps1=10``,
    ``steps2=70``, ``lr=0.01``, ``decay_every=10``; ``blur_sigma`` defaults to the paper's
    radius 11 at 224 px scaled to the input size. ``stage="class"`` returns the stage-2
    map, ``stage="inversion"`` the class-agnostic stage-1 map (a salient-object detector).
    ``precision="bfloat16"`` runs the network on a mixed-precision copy of its weights (the
    optimisation itself stays float32): several times faster in batches on CPUs with
    AMX / AVX512-BF16 and on recent GPUs, with maps that differ slightly from float32's.

    Options beyond the paper's text, all off by default: ``inversion="relative"`` divides the
    inversion error by ||f^{l0}(x)||^2 and ``penalty="l2"`` uses ||w||_2^2, as the authors'
    public code (mndu/guided-feature-inversion) does; ``temperature`` divides the logits before
    the softmax (``score="probability"``), for models whose probabilities are saturated at 1;
    ``background=<value>`` replaces the blurred image p by a constant (e.g. 0.0 for images on
    a black background, where the blur of an item is still that item).

    ``l1`` may also name several layers joined by ``+`` (or be a list), e.g.
    ``"block3_conv2+last_conv"``: a hypercolumn (Hariharan et al. 2015) whose channels are all
    available to omega. Each layer is resized bilinearly to the finest layer's grid and scaled,
    per image, so that its channel sum has unit spatial mean; with the uniform initial omega
    every layer then starts with the same share of the mask, whatever its channel count or
    activation scale. A finer layer gives the mask its resolution, a deeper, more
    class-discriminative one lets stage 2 suppress what the class ignores (clutter). With one
    layer the mask is exactly the paper's (a per-image scale does not change a min-max mask).

    ``power=k`` (k >= 1, default 1: the paper's mask) uses ``m**k`` as stage 2's mask, and returns
    it. The min-max mask has a floor: channels that also fire on clutter leave it at partial
    strength, where it costs the objective almost nothing (a classifier that ignores clutter
    scores the same with or without it) but lifts clutter fragments over the box threshold.
    A power keeps the peak at 1 and pushes that floor towards 0, so the optimised mask is
    closer to all or nothing; on the cluttered canvases this removed most too-large boxes
    (BENCHMARKS.md). Stage 1 keeps the paper's mask.
    """

    layer_param = "l1"  # `tfinterp explain --layer` sets the filter layer
    params = {
        "l0": Param("pool5", str, doc="the inversion layer"),
        "l1": Param("last_conv", str, alt=list, item=str, check=_distinct_layers,
                    expect="one layer or distinct layers joined by '+' (or a list)",
                    doc="the filter layer(s) whose channels omega combines"),
        "gamma": Param(10.0, float, min=0, doc="weight of the penalty on omega in stage 1"),
        "lam": Param(1.0, float, min=0, doc="weight of the background blend's score in stage 2 (lambda)"),
        "delta": Param(1.0, float, min=0, doc="weight of the penalty on omega in stage 2"),
        "steps1": Param(10, int, min=0, doc="Adam steps of stage 1"),
        "steps2": Param(70, int, min=0, doc="Adam steps of stage 2"),
        "lr": Param(1e-2, float, min=0, min_open=True, doc="Adam's learning rate"),
        "decay_every": Param(10, int, min=1, doc="stage 2 halves the learning rate every this many steps"),
        "blur_sigma": Param(None, float, min=0, min_open=True, none_ok=True,
                            doc="blur of the background image (default: radius 11 at 224 px, scaled)"),
        "score": Param("probability", str, choices=("probability", "logit"), doc="f_c: softmax probability or logit"),
        "stage": Param("class", str, choices=("class", "inversion"),
                       doc="the map returned: class-discriminative (stage 2) or salient object (stage 1)"),
        "init": Param(0.1, float, min=0, min_open=True, doc="initial value of every weight of omega"),
        "precision": Param("float32", str, choices=("float32", "bfloat16", "float16"),
                           doc="compute precision of the network (the optimisation stays float32)"),
        "inversion": Param("squared", str, choices=("squared", "relative"),
                           doc="stage 1's error: squared, or relative to ||f(x)||^2 (the authors' code)"),
        "penalty": Param("l1", str, choices=("l1", "l2"), doc="penalty on omega: ||w||_1 (paper) or ||w||_2^2"),
        "background": Param("blur", str, choices=("blur",), alt=float, expect="'blur' or a constant pixel value",
                            doc="what replaces the image where the mask is off"),
        "temperature": Param(1.0, float, min=0, min_open=True, doc="divides the logits before the softmax"),
        "power": Param(1.0, float, min=1, expect="a finite number >= 1 (1 is the paper's mask)",
                       doc="stage 2 uses the mask to this power"),
    }

    def __init__(self, model, **params):
        super().__init__(model, **params)
        self._compiled_both = tf.function(self._both_batch, input_signature=self._compiled.input_signature,
                                          autograph=False)

    def prepare(self):
        import keras

        from tfinterp.models.layers import feature_model

        names = _layer_names(self.l1)
        self._l1_layers = names
        self.l1 = "+".join(names)
        h, w = self.input_shape[:2]
        self.blur_sigma = float(self.blur_sigma) if self.blur_sigma is not None else 11.0 * h / 224.0
        self._features = feature_model(self.model, [self.l0] + [n for n in names if n != self.l0],
                                       include_output=True, precision=self.precision)
        # stage 1 needs nothing above l0 (a sub-graph of the same layers, same weights)
        self._to_l0 = keras.Model(self._features.input, {self.l0: self._features.output[self.l0]})
        for n in names:
            if len(self._features.output[n].shape) != 4:
                raise UserError(f"filter layer l1='{n}' must be convolutional (rank 4)")
        # the mask's grid: the finest filter layer's
        fh, fw = max((tuple(int(v) for v in self._features.output[n].shape[1:3]) for n in names),
                     key=lambda hw: hw[0] * hw[1])
        self._grid = (fh, fw)
        self._up_rows = self._resize_matrix(int(fh), int(h))
        self._up_cols = self._resize_matrix(int(fw), int(w))

    def summary(self):
        return {"l0": self.l0, "l1": self.l1, "gamma": self.gamma, "lambda": self.lam, "delta": self.delta,
                "steps1": self.steps1, "steps2": self.steps2, "lr": self.lr, "decay_every": self.decay_every,
                "blur_sigma": round(self.blur_sigma, 4), "score": self.score, "stage": self.stage,
                "precision": self.precision, "inversion": self.inversion, "penalty": self.penalty,
                "background": self.background, "power": self.power,
                # the temperature only enters the softmax: with the logit score it does nothing
                "temperature": self.temperature if self.score == "probability" else None}

    # -- the optimisation ---------------------------------------------------------------
    def _mask(self, w, acts, power: float = 1.0):
        """min-max normalised omega-weighted channel sum, bilinearly upsampled, to the power
        ``power``: (N, H, W, 1).

        The upsampling is the same bilinear map as ``tf.image.resize`` written as two small
        matrix products, whose gradient is far cheaper than ResizeBilinearGrad in a loop."""
        m = tf.einsum("bhwk,bk->bhw", acts, w)
        lo = tf.reduce_min(m, axis=[1, 2], keepdims=True)
        hi = tf.reduce_max(m, axis=[1, 2], keepdims=True)
        m = tf.math.divide_no_nan(m - lo, hi - lo)
        m = tf.matmul(tf.matmul(self._up_rows, m), self._up_cols, transpose_b=True)[..., None]
        return m if power == 1.0 else tf.pow(tf.maximum(m, 0.0), power)

    @staticmethod
    def _resize_matrix(n_in: int, n_out: int):
        """(n_out, n_in) matrix of tf.image.resize's bilinear interpolation along one axis."""
        eye = tf.reshape(tf.eye(n_in), [n_in, n_in, 1, 1])
        return tf.transpose(tf.image.resize(eye, [n_out, 1], method="bilinear")[:, :, 0, 0])

    def _score(self, images, targets):
        logits = tf.cast(self._features(images, training=False)["output"], tf.float32)
        if self.score == "probability":
            logits = tf.nn.softmax(logits / self.temperature, axis=-1)
        return gather_target(logits, targets)

    def _filter_acts(self, feats):
        """The filter layer's activations (N, h, w, K) as float32; for several layers, each
        resized to the mask's grid and scaled so that its channel sum has unit spatial mean."""
        if len(self._l1_layers) == 1:
            return tf.cast(feats[self._l1_layers[0]], tf.float32)
        parts = []
        for n in self._l1_layers:
            a = tf.cast(feats[n], tf.float32)
            if tuple(a.shape[1:3]) != self._grid:
                a = tf.image.resize(a, self._grid, method="bilinear")
            level = tf.reduce_mean(tf.reduce_sum(a, axis=-1), axis=[1, 2])
            parts.append(a * tf.math.divide_no_nan(1.0, level)[:, None, None, None])
        return tf.concat(parts, axis=-1)

    def filter_activations(self, images, batch_size: int | None = None):
        """The activations omega weights, (N, h, w, K) float32 NumPy: the filter layer's (or the
        layers' hypercolumn, resized and scaled as the mask sees it)."""
        import numpy as np

        x = check_images(images, self.input_shape)
        bs = self._batch(batch_size)
        return np.concatenate([self._filter_acts(self._features(x[i:i + bs], training=False)).numpy()
                               for i in range(0, len(x), bs)])

    def _background(self, images):
        """The image p blended in where the mask is off: the blurred image or a constant."""
        if self.background == "blur":
            return gaussian_blur(images, self.blur_sigma)
        return tf.fill(tf.shape(images), self.background)

    def _norm(self, w):
        """Per-image penalty on omega: ||w||_1 (the paper) or ||w||_2^2 (the authors' code)."""
        return tf.reduce_sum(tf.abs(w) if self.penalty == "l1" else tf.square(w), axis=-1)

    @staticmethod
    def _keep_defined(new, old):
        """Clip at 0; if that would zero every weight of an image (an undefined 0/0 mask),
        keep that image's last defined weights."""
        new = tf.nn.relu(new)
        alive = tf.reduce_sum(new, axis=-1, keepdims=True) > 0.0
        return tf.where(alive, new, old)

    def _both_batch(self, images, targets):
        feats = self._features(images, training=False)
        acts = tf.stop_gradient(self._filter_acts(feats))
        ref = tf.stop_gradient(tf.cast(feats[self.l0], tf.float32))
        p = self._background(images)
        d = images - p  # Phi = x*m + p*(1-m) = p + d*m and Phi_bg = x*(1-m) + p*m = x - d*m
        axes = list(range(1, ref.shape.rank))
        if self.inversion == "relative":
            ref_energy = tf.maximum(tf.reduce_sum(tf.square(ref), axis=axes), 1e-12)
        w0 = tf.fill([tf.shape(images)[0], acts.shape[-1]], self.init)

        def inversion_loss(w):
            phi = p + d * self._mask(w, acts)
            f = tf.cast(self._to_l0(phi, training=False)[self.l0], tf.float32)
            err = tf.reduce_sum(tf.square(f - ref), axis=axes)
            if self.inversion == "relative":
                err = err / ref_energy
            return tf.reduce_sum(err + self.gamma * self._norm(w))

        def target_loss(w):
            dm = d * self._mask(w, acts, self.power)
            both = self._score(tf.concat([p + dm, images - dm], 0), tf.concat([targets, targets], 0))  # one pass
            fg, bg = tf.split(both, 2)
            loss = -fg + self.lam * bg + self.delta * self._norm(w)
            return tf.reduce_sum(loss)

        w1 = adam_minimize(inversion_loss, w0, self.steps1, self.lr, self._keep_defined)
        stage1 = self._mask(w1, acts)[..., 0]
        w2 = adam_minimize(target_loss, w1, self.steps2, self.lr, self._keep_defined, self.decay_every)
        stage2 = self._mask(w2, acts, self.power)[..., 0]
        return normalize_maps(stage2), normalize_maps(stage1)

    def target_terms(self, images, targets, masks, batch_size: int | None = None):
        """(f_c(Phi), f_c(Phi_bg)) of Algorithm 2 for given masks (N, H, W) in [0, 1]: how any
        mask (another method's, a ground-truth box) fares on the objective stage 2 minimises,
        ``-f_c(Phi) + lambda * f_c(Phi_bg)`` (without the penalty on omega, which only
        guided inversion's own masks have). Each a float32 array (N,)."""
        import numpy as np

        x = np.asarray(images, np.float32)
        m = np.asarray(masks, np.float32)
        if m.shape != x.shape[:3]:
            raise UserError(f"masks must have shape {x.shape[:3]}, got {m.shape}")
        t = np.asarray(targets, np.int32)
        bs = int(batch_size or self.batch_size)
        fg, bg = [], []
        for i in range(0, len(x), bs):
            xi = tf.constant(x[i:i + bs])
            p = self._background(xi)
            dm = (xi - p) * m[i:i + bs, ..., None]
            ti = tf.constant(t[i:i + bs])
            fg.append(self._score(p + dm, ti).numpy())
            bg.append(self._score(xi - dm, ti).numpy())
        return np.concatenate(fg), np.concatenate(bg)

    def attribute(self, images, targets):
        final, stage1 = self._both_batch(images, targets)
        return stage1 if self.stage == "inversion" else final

    def explain_both(self, images, targets=None, batch_size: int | None = None):
        """(class-discriminative map, stage-1 salient-object map), each (N, H, W) in [0, 1]."""
        import numpy as np

        x, t = self.checked_inputs(images, targets)
        bs = self._batch(batch_size)
        parts = [self._compiled_both(x[i:i + bs], t[i:i + bs]) for i in range(0, len(x), bs)]
        return (np.concatenate([a.numpy() for a, _ in parts]), np.concatenate([b.numpy() for _, b in parts]))

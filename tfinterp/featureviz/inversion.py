"""Model inversion (Mahendran & Vedaldi, "Understanding deep image representations by inverting
them", CVPR 2015): images whose representation at a layer matches a given image's.

For a representation Phi (a layer's activations) and an image x0, find x minimising

    E(x) = ||Phi(x) - Phi0||^2 / ||Phi0||^2  +  (lambda_V/2 * R_V(x~) + lambda_a/2 * R_a(x~)) / sigma^2

the paper's normalised Euclidean loss plus its natural-image prior, in the form of the
authors' released code (``deep-goggle``, ``core/invert_nn.m``), whose units the weights below
belong to:

- ``x~ = 255 (x - mu)``: the image on Caffe's 0..255 scale with the per-channel mean `mu`
  of the reference image(s) subtracted (the code subtracts the data set's mean image);
- ``R_V(x~) = sum_ij ((x~[i,j+1] - x~[i,j])^2 + (x~[i+1,j] - x~[i,j])^2)^(beta/2)``, per
  channel, forward differences (0 at the last row / column): the TV^beta prior, beta = 2
  (the paper: beta = 1 leaves "spikes", beta = 2 removes them);
- ``R_a(x~) = sum |x~|^alpha``, the alpha-norm, alpha = 6 (a soft bound on the pixel range);
- ``sigma^2 = ||x~0||^2``, the squared norm of the mean-subtracted reference (the code's
  ``x0_sigma``, there averaged over a data set), so the prior does not depend on the image size;
- the weights of the paper's CNN experiments (``experiments/experiment_cnn.m``):
  ``lambda_a = 8e-10`` and ``lambda_V = 1, 10, 100`` for shallow, middle and deep layers
  (AlexNet's first 6, next 6 and last 8 of its 20 layers), by the layer's relative depth
  among the model's weight (conv / dense) layers: up to 1/4 -> 1, up to 1/2 -> 10, deeper
  -> 100 (AlexNet's conv1-2, conv3-4, conv5-fc8). ``tv_weight="paper"`` uses these numbers
  as they are. They were set for 227-px input: the same scene drawn at a lower resolution
  has neighbouring-pixel differences larger by the size ratio, so R_V / sigma^2 grows as its
  square (a 64-px canvas pays ~12x more for the same edges). ``tv_weight="auto"`` (the
  default) therefore scales the paper's weight by ``(min(H, W) / 227)^2``, the regularisation
  the paper's weight gives the same content at its resolution (64 px: 0.08, 0.8, 8).
  With the literal weights the deep layers of the 64-px models here reconstruct flat grey
  images (BENCHMARKS.md, "Model inversion").

Several reconstructions start from different seeded noise in one batch (the paper's
``numRepeats``): where they agree the layer keeps the information, where they differ it is
invariant. The image is a `tfinterp.featureviz.param` parameterization (``pixel`` by default,
the paper's; ``fourier``), optimised with the shared in-graph Adam
(`tfinterp.ops.optim.adam_update`) inside one `tf.function` with a free batch axis (no
retracing across calls of the same `Inverter`), the learning rate divided by 10 for the last
fifth of the steps (the code's step schedule); random transforms
(`tfinterp.featureviz.transforms`, as in the journal version, Mahendran & Vedaldi, IJCV 2016)
are optional and off by default.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tfinterp.errors import UserError

PAPER_ALPHA = 6.0
PAPER_BETA = 2.0
PAPER_ALPHA_WEIGHT = 8e-10
PAPER_TV_WEIGHTS = (1.0, 10.0, 100.0)  # shallow, middle, deep
PIXEL_SCALE = 255.0
PAPER_SIZE = 227  # AlexNet's input side, for which the paper's weights were set


def _weight_layers(model):
    from tfinterp.models.layers import walk_layers

    return [p for p, layer in walk_layers(model) if hasattr(layer, "kernel")
            and (hasattr(layer, "convolution_op") or type(layer).__name__ == "Dense")]


def layer_depth(model, layer: str) -> float:
    """The relative depth of `layer` in (0, 1]: the number of weight (conv / dense) layers up to
    and including it (by the model's layer order), over all of them; the output is 1."""
    from tfinterp.featureviz.render import PRE
    from tfinterp.models.layers import list_layer_paths, resolve_layer

    base = layer[:-len(PRE)] if layer.endswith(PRE) else layer
    path = "/".join(resolve_layer(model, base))
    weights = _weight_layers(model)
    if not weights or path == "":
        return 1.0
    order = {p: i for i, p in enumerate(list_layer_paths(model))}
    pos = order.get(path, len(order))
    # a container's path stands for its last inner layer
    inner = [order[p] for p in order if p.startswith(path + "/")]
    pos = max(inner) if inner else pos
    upto = sum(1 for p in weights if order.get(p, -1) <= pos)
    return max(upto, 1) / len(weights)


def auto_tv_weight(depth: float, size: int) -> float:
    """The paper's lambda_V for `depth` (`paper_tv_weight`) scaled to `size`-px images by
    ``(size / 227)^2`` (see the module docstring)."""
    return paper_tv_weight(depth) * (float(size) / PAPER_SIZE) ** 2


def paper_tv_weight(depth: float) -> float:
    """lambda_V of the paper's CNN experiments for a layer at relative `depth`: 1 (shallow,
    depth <= 1/4), 10 (<= 1/2), 100 (deeper)."""
    if depth <= 0.25:
        return PAPER_TV_WEIGHTS[0]
    if depth <= 0.5:
        return PAPER_TV_WEIGHTS[1]
    return PAPER_TV_WEIGHTS[2]


def tv_beta(images, beta: float = PAPER_BETA):
    """R_V per image ((N,)): sum over pixels and channels of (dx^2 + dy^2)^(beta/2), forward
    differences with 0 at the last column / row (the released code's ``tv``)."""
    import tensorflow as tf

    dx = tf.concat([images[:, :, 1:] - images[:, :, :-1], tf.zeros_like(images[:, :, :1])], axis=2)
    dy = tf.concat([images[:, 1:] - images[:, :-1], tf.zeros_like(images[:, :1])], axis=1)
    sq = dx * dx + dy * dy
    v = sq if beta == 2.0 else tf.pow(sq + 1e-12, beta / 2.0)
    return tf.reduce_sum(v, axis=[1, 2, 3])


def alpha_norm(images, alpha: float = PAPER_ALPHA):
    """R_a per image ((N,)): sum |x|^alpha."""
    import tensorflow as tf

    return tf.reduce_sum(tf.pow(tf.abs(images), alpha), axis=[1, 2, 3])


def inversion_loss(phi, phi0, images, mean, sigma2, tv_weight, alpha_weight=PAPER_ALPHA_WEIGHT,
                   alpha=PAPER_ALPHA, beta=PAPER_BETA):
    """E(x) per image ((N,); Mahendran & Vedaldi 2015, see the module docstring) and its parts:
    returns ``(total, representation term, prior term)``. `phi`, `phi0` [N, ...] the
    representations of the images and the targets, `images` [N, H, W, C] in [0, 1], `mean`
    [N, C] and `sigma2` [N] of the targets (`reference_stats`)."""
    import tensorflow as tf

    axes = list(range(1, len(phi.shape)))
    rep = tf.reduce_sum(tf.square(phi - phi0), axis=axes) / tf.maximum(tf.reduce_sum(tf.square(phi0), axis=axes),
                                                                        1e-12)
    xt = PIXEL_SCALE * (images - mean[:, None, None, :])
    prior = (0.5 * tv_weight * tv_beta(xt, beta) + 0.5 * alpha_weight * alpha_norm(xt, alpha)) / sigma2
    return rep + prior, rep, prior


def reference_stats(images) -> tuple[np.ndarray, np.ndarray]:
    """(mu [N, C], sigma^2 [N]) of reference images [N, H, W, C] in [0, 1]: the per-channel mean
    and the squared norm of 255 (x0 - mu) (at least 1, for a constant image)."""
    x = np.asarray(images, np.float64)
    mu = x.mean(axis=(1, 2))
    s2 = ((PIXEL_SCALE * (x - mu[:, None, None, :])) ** 2).sum(axis=(1, 2, 3))
    return mu.astype(np.float32), np.maximum(s2, 1.0).astype(np.float32)


@dataclass
class InversionResult:
    """What `invert` returns. images: [M*S, H, W, C] in [0, 1], reconstruction ``m*S + s`` of
    target m from seed s; rel_error: [M*S] ||Phi(x) - Phi0|| / ||Phi0|| (no transforms);
    loss: [M*S] E(x); pixel_rmse: [M*S] the RMS pixel distance to the target (in [0, 1]
    units); history: {step: [M*S] E at that step}; settings: JSON-ready."""

    images: np.ndarray
    targets: np.ndarray
    rel_error: np.ndarray
    loss: np.ndarray
    pixel_rmse: np.ndarray
    history: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0


class Inverter:
    """The compiled inversion of one model's `layer` (Mahendran & Vedaldi 2015); `run(images,
    seeds)` inverts any batch through the same graph (no retracing between calls).

    ``param`` ``"pixel"`` (the paper's) or ``"fourier"`` (`tfinterp.featureviz.param`, with
    `decorrelation` for colour); Adam with learning rate `lr` for `steps` steps (divided by
    10 for the last fifth); ``tv_weight`` ``"auto"`` (the paper's depth schedule scaled to
    the image size, `auto_tv_weight`), ``"paper"`` (`paper_tv_weight`) or a number, ``alpha_weight``, ``alpha``, ``beta`` as in the paper;
    ``transforms`` ``"none"`` (default), ``"lucid"`` or a list; ``init_sd`` the spread of the
    starting noise (pre-sigmoid). `history_every` records E every that many steps.
    """

    def __init__(self, model, layer: str, *, param="pixel", steps: int = 400, lr: float = 0.1, tv_weight="auto",
                 alpha_weight: float = PAPER_ALPHA_WEIGHT, alpha: float = PAPER_ALPHA, beta: float = PAPER_BETA,
                 transforms="none", decorrelation=None, init_sd: float = 1.0, seed: int = 0,
                 history_every: int = 0):
        import tensorflow as tf

        from tfinterp.checks import model_image_shape
        from tfinterp.featureviz.param import make_param
        from tfinterp.featureviz.render import activation_fn
        from tfinterp.featureviz.transforms import compose, make_transforms
        from tfinterp.ops.optim import adam_update

        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise UserError(f"steps must be a positive integer, got {steps!r}")
        if not float(lr) > 0:
            raise UserError(f"lr must be > 0, got {lr}")
        if not (float(alpha) > 0 and float(beta) > 0 and float(alpha_weight) >= 0):
            raise UserError("alpha and beta must be > 0 and alpha_weight >= 0")
        self.model, self.layer = model, str(layer)
        h, w, c = model_image_shape(model)
        self.shape = (h, w, c)
        self.depth = layer_depth(model, self.layer)  # also checks the layer (UserError if unknown)
        self.tv_rule = tv_weight if isinstance(tv_weight, str) else "given"
        if isinstance(tv_weight, str):
            if tv_weight not in ("auto", "paper"):
                raise UserError(f"tv_weight must be 'auto', 'paper' or a number >= 0, got '{tv_weight}'")
            tv_weight = paper_tv_weight(self.depth) if tv_weight == "paper" else auto_tv_weight(self.depth, min(h, w))
        if not float(tv_weight) >= 0:
            raise UserError(f"tv_weight must be >= 0, got {tv_weight}")
        self.tv_weight, self.alpha_weight = float(tv_weight), float(alpha_weight)
        self.alpha, self.beta = float(alpha), float(beta)
        self.steps, self.lr, self.seed, self.init_sd = int(steps), float(lr), int(seed), float(init_sd)
        self.param = make_param(param, (1, h, w, c), decorrelation)
        self.transforms = make_transforms(transforms, min(h, w))
        fm = activation_fn(model, [self.layer])
        name = self.layer
        self._phi = tf.function(lambda x: fm(x)[name], input_signature=[tf.TensorSpec((None, h, w, c), tf.float32)])
        phi_shape = tuple(self._phi(tf.zeros((1, h, w, c))).shape[1:])
        self.phi_shape = phi_shape
        tfm = compose(self.transforms, h, w) if self.transforms else None
        p, steps_, lr_, seed_ = self.param, self.steps, self.lr, self.seed
        tvw, aw, al, be = self.tv_weight, self.alpha_weight, self.alpha, self.beta
        every = int(history_every) if history_every else 0
        k = len(range(every, steps_ + 1, every)) if every else 0
        self.history_steps = list(range(every, steps_ + 1, every)) if every else []
        drop = max(1, int(round(0.8 * steps_)))

        def energy(params, phi0, mean, sigma2, step_seed):
            img = p.to_image(params)
            x = tf.ensure_shape(tfm(img, step_seed), [None, h, w, c]) if tfm is not None else img
            return inversion_loss(fm(x)[name], phi0, img, mean, sigma2, tvw, aw, al, be)

        pspec = tf.TensorSpec((None,) + tuple(p.param_shape(1)[1:]), tf.float32)
        sig = [pspec, tf.TensorSpec((None,) + phi_shape, tf.float32), tf.TensorSpec((None, c), tf.float32),
               tf.TensorSpec((None,), tf.float32)]

        @tf.function(input_signature=sig)
        def loop(params0, phi0, mean, sigma2):
            n = tf.shape(params0)[0]

            def body(t, params, m, v, hist):
                with tf.GradientTape() as tape:
                    tape.watch(params)
                    total, _, _ = energy(params, phi0, mean, sigma2, tf.stack([tf.constant(seed_, tf.int32), t]))
                    loss = tf.reduce_sum(total)
                g = tape.gradient(loss, params)
                rate = tf.where(t < drop, lr_, lr_ * 0.1)
                step, m, v = adam_update(g, m, v, t + 1, rate)
                if every:
                    hit = tf.equal((t + 1) % every, 0)
                    j = tf.maximum((t + 1) // every - 1, 0)
                    hist = tf.cond(hit, lambda: tf.tensor_scatter_nd_update(hist, [[j]], total[None]), lambda: hist)
                return t + 1, params - step, m, v, hist

            zeros = tf.zeros_like(params0)
            hist0 = tf.zeros(tf.stack([k, n]), tf.float32)
            _, params, _, _, hist = tf.while_loop(lambda t, *_: t < steps_, body,
                                                  (tf.constant(0), params0, zeros, zeros, hist0))
            img = p.to_image(params)
            total, rep, _ = inversion_loss(fm(img)[name], phi0, img, mean, sigma2, tvw, aw, al, be)
            return img, total, rep, hist

        self._loop = loop

    def start(self, n: int, seeds) -> np.ndarray:
        """Starting parameters of `n` reconstructions, reconstruction i from noise seeded by
        (seed, seeds[i], 17): images sigmoid(init_sd * N(0, 1)) per pixel, mapped into the
        parameterization exactly."""
        import tensorflow as tf

        h, w, c = self.shape
        imgs = np.stack([1.0 / (1.0 + np.exp(-self.init_sd * np.random.default_rng([self.seed, int(s), 17])
                                              .standard_normal((h, w, c))))
                         for s in seeds]).astype(np.float32)
        return np.asarray(self.param.from_image(tf.constant(imgs)), np.float32)

    def representation(self, images) -> np.ndarray:
        """Phi(images): the layer's activations [N, ...]."""
        import tensorflow as tf

        return np.asarray(self._phi(tf.constant(np.asarray(images, np.float32))))

    def run(self, images, seeds=4) -> InversionResult:
        """Invert the representation of `images` ([M, H, W, C] or one [H, W, C], in [0, 1]) from
        `seeds` (a count or a list of seed numbers) each: M*S reconstructions in one batch."""
        import tensorflow as tf

        from tfinterp.checks import check_images

        t0 = time.perf_counter()
        x0 = np.asarray(images, np.float32)
        if x0.ndim == 3:
            x0 = x0[None]
        x0 = np.asarray(check_images(x0, self.shape, what="images to invert"), np.float32)
        seeds = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
        if not seeds:
            raise UserError("seeds must be >= 1")
        m, s = len(x0), len(seeds)
        phi0 = self.representation(x0)
        if not np.all(np.isfinite(phi0)) or float(np.abs(phi0).sum()) == 0.0:
            raise UserError(f"the representation of the image at '{self.layer}' is all zero (or not finite): "
                            "there is nothing to invert; pick another layer (e.g. its ':pre' activation)")
        mu, s2 = reference_stats(x0)
        rep = np.repeat(np.arange(m), s)
        params0 = np.concatenate([self.start(s, seeds) for _ in range(m)])
        img, total, rel2, hist = self._loop(tf.constant(params0), tf.constant(phi0[rep]), tf.constant(mu[rep]),
                                            tf.constant(s2[rep]))
        img = img.numpy()
        rmse = np.sqrt(((img - x0[rep]) ** 2).mean(axis=(1, 2, 3)))
        settings = {"layer": self.layer, "depth": round(self.depth, 4), "param": self.param.kind,
                    "steps": self.steps, "lr": self.lr, "lr_schedule": "x0.1 for the last fifth",
                    "tv_weight": self.tv_weight, "tv_rule": self.tv_rule, "alpha_weight": self.alpha_weight, "alpha": self.alpha,
                    "beta": self.beta, "transforms": [repr(t) for t in self.transforms], "seeds": seeds,
                    "seed": self.seed, "init_sd": self.init_sd, "representation_shape": list(self.phi_shape)}
        hist = hist.numpy()
        return InversionResult(images=img.astype(np.float32), targets=rep, rel_error=np.sqrt(rel2.numpy()),
                               loss=total.numpy(), pixel_rmse=rmse.astype(np.float32),
                               history={t: hist[j] for j, t in enumerate(self.history_steps)},
                               settings=settings, seconds=time.perf_counter() - t0)


def invert(model, images, layer: str, seeds=4, **kwargs) -> InversionResult:
    """Invert `layer`'s representation of `images` from several seeds (Mahendran & Vedaldi 2015):
    ``Inverter(model, layer, **kwargs).run(images, seeds)``. The model is not changed."""
    return Inverter(model, layer, **kwargs).run(images, seeds)


__all__ = ["invert", "Inverter", "InversionResult", "inversion_loss", "tv_beta", "alpha_norm", "reference_stats",
           "layer_depth", "paper_tv_weight", "auto_tv_weight", "PAPER_TV_WEIGHTS", "PAPER_ALPHA", "PAPER_BETA", "PAPER_ALPHA_WEIGHT"]

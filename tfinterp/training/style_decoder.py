"""AdaIN style transfer (Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive
Instance Normalization", ICCV 2017): the encoders, the AdaIN operation, the decoder and its
training.

AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y), with mu and sigma the per-image,
per-channel mean and standard deviation over the spatial axes of the encoder features x
(content) and y (style). A decoder g maps the re-normalised features t back to an image; it
is trained with Huang & Belongie's loss, L = ||f(g(t)) - t||^2 + lambda * (||mu(f(g(t))) -
mu(f(s))||^2 + ||sigma(f(g(t))) - sigma(f(s))||^2), the encoder f fixed.

Encoders (`encoder_spec`, `make_encoder`):

- ``vgg19``: VGG-19 up to ``block4_conv1`` (relu4_1, the paper's choice) with ImageNet
  weights (`keras.applications`; ``weights=None`` for tests). Needs the weights file, i.e. a
  network connection once or a filled ``~/.keras/models``.
- ``random``: offline, a seeded random multi-scale convolutional encoder: one layer of random
  filters of several sizes (3, 5, 7, 11), ReLU, 2x2 average pooling. Random filters already
  capture texture statistics (Ustyuzhaninov, Brendel, Gatys & Bethge, "What does it take to
  generate natural textures?", ICLR 2017). It is NOT VGG-19; every output says so (``label``).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfinterp.errors import UserError

ENCODERS = ("random", "vgg19")
_VGG_MEAN_BGR = (103.939, 116.779, 123.68)


def encoder_spec(kind: str = "random", channels: int = 1, seed: int = 0, weights="imagenet",
                 kernels=(3, 5, 7, 11), filters: int = 16, pool: int = 2, layer: str = "block4_conv1") -> dict:
    """The description an encoder is rebuilt from (stored in the decoder's config)."""
    if kind not in ENCODERS:
        raise UserError(f"unknown AdaIN encoder '{kind}'; use one of {', '.join(ENCODERS)}")
    if channels not in (1, 3):
        raise UserError(f"the AdaIN encoder takes 1 or 3 channels, not {channels}")
    if kind == "random":
        return {"kind": "random", "channels": int(channels), "seed": int(seed), "kernels": [int(k) for k in kernels],
                "filters": int(filters), "pool": int(pool)}
    return {"kind": "vgg19", "channels": int(channels), "weights": weights, "layer": layer}


class RandomEncoder:
    """Seeded random multi-scale conv encoder (Ustyuzhaninov et al. 2017): for each kernel size,
    `filters` He-normal random filters (SAME, no bias), ReLU; the maps concatenated and
    average-pooled by `pool`. Fixed: it has no trainable weights."""

    def __init__(self, channels=1, seed=0, kernels=(3, 5, 7, 11), filters=16, pool=2):
        rng = np.random.default_rng([int(seed), 1717])
        self.kernels = [tf.constant(rng.normal(0.0, math.sqrt(2.0 / (k * k * channels)),
                                               (k, k, channels, filters)).astype(np.float32)) for k in kernels]
        self.pool = int(pool)
        self.factor = self.pool
        self.spec = encoder_spec("random", channels, seed, kernels=kernels, filters=filters, pool=pool)
        self.label = (f"seeded random multi-scale conv encoder (Ustyuzhaninov et al. 2017; kernels "
                      f"{'/'.join(map(str, kernels))}, {filters} filters each, seed {seed}), NOT VGG-19")

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        maps = [tf.nn.relu(tf.nn.conv2d(x, k, 1, "SAME")) for k in self.kernels]
        f = tf.concat(maps, -1)
        return tf.nn.avg_pool2d(f, self.pool, self.pool, "SAME") if self.pool > 1 else f


class VGG19Encoder:
    """VGG-19 (keras.applications) up to `layer` (block4_conv1 = relu4_1, Huang & Belongie);
    grey input is repeated over RGB, then Caffe-style preprocessing (BGR, mean subtracted)."""

    def __init__(self, channels=1, weights="imagenet", layer="block4_conv1"):
        try:
            vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
        except Exception as e:  # no network and no cached weights file
            raise UserError(f"VGG-19 ImageNet weights are not available ({type(e).__name__}); use the offline "
                            "encoder=random, or put vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 in "
                            "~/.keras/models") from None
        try:
            out = vgg.get_layer(layer).output
        except ValueError:
            raise UserError(f"VGG-19 has no layer '{layer}'") from None
        self.model = keras.Model(vgg.input, out)
        self.model.trainable = False
        pools = sum(1 for lyr in vgg.layers[:vgg.layers.index(vgg.get_layer(layer)) + 1] if "pool" in lyr.name)
        self.factor = 2 ** pools
        self.channels = channels
        self.spec = encoder_spec("vgg19", channels, weights=weights, layer=layer)
        self.label = f"VGG-19 {layer} ({'ImageNet weights' if weights == 'imagenet' else 'random init, weights=None'})"

    def __call__(self, x):
        x = tf.convert_to_tensor(x, tf.float32)
        if self.channels == 1:
            x = tf.repeat(x, 3, axis=-1)
        x = x[..., ::-1] * 255.0 - tf.constant(_VGG_MEAN_BGR, tf.float32)
        return self.model(x, training=False)


def make_encoder(spec: dict):
    """The encoder described by `spec` (`encoder_spec`)."""
    spec = dict(spec)
    kind = spec.pop("kind", "random")
    if kind == "random":
        return RandomEncoder(**spec)
    if kind == "vgg19":
        return VGG19Encoder(**spec)
    raise UserError(f"unknown AdaIN encoder '{kind}'; use one of {', '.join(ENCODERS)}")


def moments(f, eps: float = 1e-5):
    """Per-image, per-channel spatial mean and standard deviation of features [B, h, w, K]."""
    mu, var = tf.nn.moments(f, axes=[1, 2], keepdims=True)
    return mu, tf.sqrt(var + eps)


def adain(content, style, eps: float = 1e-5):
    """AdaIN (Huang & Belongie 2017, Eq. 8): content features re-normalised to the style's
    per-channel mean and standard deviation."""
    mc, sc = moments(content, eps)
    ms, ss = moments(style, eps)
    return ss * (content - mc) / sc + ms


@keras.saving.register_keras_serializable(package="tfinterp")
class StyleDecoder(keras.Model):
    """The AdaIN decoder: conv 3x3 (filters[0]) + ReLU, then `upsamples` times nearest 2x
    upsampling + conv 3x3 + ReLU, then conv 3x3 to `out_channels` with a sigmoid (images in
    [0, 1]). `encoder` is the spec of the encoder whose features it decodes (`encoder_spec`)."""

    def __init__(self, out_channels=1, filters=(64, 32), upsamples=1, encoder=None, **kwargs):
        super().__init__(**kwargs)
        self.out_channels = int(out_channels)
        self.filters = tuple(int(f) for f in filters)
        self.upsamples = int(upsamples)
        self.encoder = dict(encoder or encoder_spec())
        self.first = keras.layers.Conv2D(self.filters[0], 3, padding="same", activation="relu", name="dec_conv0")
        self.ups = [keras.layers.UpSampling2D(2, name=f"dec_up{i + 1}") for i in range(self.upsamples)]
        self.convs = [keras.layers.Conv2D(self.filters[min(i + 1, len(self.filters) - 1)], 3, padding="same",
                                          activation="relu", name=f"dec_conv{i + 1}") for i in range(self.upsamples)]
        self.last = keras.layers.Conv2D(self.out_channels, 3, padding="same", activation="sigmoid", name="dec_out")

    def call(self, t, training=False):
        h = self.first(t)
        for up, conv in zip(self.ups, self.convs):
            h = conv(up(h))
        return self.last(h)

    def get_config(self):
        return {**super().get_config(), "out_channels": self.out_channels, "filters": list(self.filters),
                "upsamples": self.upsamples, "encoder": dict(self.encoder)}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def new_decoder(encoder, out_channels: int, filters=(64, 32)) -> StyleDecoder:
    """A decoder for `encoder`'s features (as many 2x upsamplings as the encoder downsamples), built."""
    ups = int(round(math.log2(encoder.factor)))
    dec = StyleDecoder(out_channels, filters, ups, encoder.spec)
    k = int(encoder(tf.zeros([1, 8 * encoder.factor, 8 * encoder.factor, out_channels])).shape[-1])
    dec(tf.zeros([1, 8, 8, k]))
    return dec


def decode_to(decoder, t, size):
    """Decoded features resized (bilinear) to `size` x `size` when the encoder's rounding changed it."""
    out = decoder(t, training=False)
    if out.shape[1] != size or out.shape[2] != size:
        out = tf.image.resize(out, [size, size])
    return out


def decoder_losses(encoder, decoder, contents, styles, style_weight: float = 1.0, training=False):
    """Huang & Belongie's loss terms for a batch: ``content`` ||f(g(t)) - t||^2 (mean),
    ``style`` mean/std matching at the encoder output, ``loss`` = content + weight * style."""
    fc, fs = encoder(contents), encoder(styles)
    t = adain(fc, fs)
    out = decoder(t, training=training)
    if out.shape[1] != contents.shape[1]:
        out = tf.image.resize(out, tf.shape(contents)[1:3])
    f = encoder(out)
    if f.shape[1] != t.shape[1]:
        f = tf.image.resize(f, tf.shape(t)[1:3])
    content = tf.reduce_mean(tf.square(f - t))
    mo, so = moments(f)
    ms, ss = moments(fs)
    style = tf.reduce_mean(tf.square(mo - ms)) + tf.reduce_mean(tf.square(so - ss))
    return {"loss": content + style_weight * style, "content": content, "style": style}


def train_style_decoder(contents, styles, encoder: dict | None = None, epochs: int = 2, batch_size: int = 32,
                        learning_rate: float = 1e-3, style_weight: float = 1.0, filters=(64, 32), seed: int = 0,
                        verbose: int = 1):
    """Train an AdaIN decoder (Huang & Belongie 2017) on `contents` [N,H,W,C] with styles drawn
    per image from `styles` [K,H,W,C] (a stateless seeded choice); the encoder is fixed.

    Returns ``(decoder, history)``: history holds the per-epoch mean of every loss term.
    """
    contents = np.asarray(contents, np.float32)
    styles = np.asarray(styles, np.float32)
    if contents.ndim != 4 or styles.ndim != 4 or contents.shape[1:] != styles.shape[1:]:
        raise UserError(f"contents {contents.shape} and styles {styles.shape} must be [N,H,W,C] of one shape")
    spec = encoder or encoder_spec("random", contents.shape[-1], seed)
    enc = make_encoder(spec)
    keras.utils.set_random_seed(seed)
    dec = new_decoder(enc, contents.shape[-1], filters)
    opt = keras.optimizers.Adam(learning_rate)
    bank = tf.constant(styles)

    @tf.function(reduce_retracing=True)
    def step(c, key):
        idx = tf.random.stateless_uniform([tf.shape(c)[0]], seed=key, maxval=len(styles), dtype=tf.int64)
        s = tf.gather(bank, idx)
        with tf.GradientTape() as tape:
            terms = decoder_losses(enc, dec, c, s, style_weight, training=True)
        grads = tape.gradient(terms["loss"], dec.trainable_variables)
        opt.apply(grads, dec.trainable_variables)
        return terms

    history = {"loss": [], "content": [], "style": []}
    n = len(contents)
    for e in range(epochs):
        order = np.random.default_rng([seed, e]).permutation(n)
        bar = keras.utils.Progbar(n, unit_name="image", verbose=verbose) if verbose else None
        sums = {k: tf.constant(0.0) for k in history}  # summed on the device; read once an epoch
        for b, i in enumerate(range(0, n, batch_size)):
            c = contents[order[i:i + batch_size]]
            terms = step(tf.constant(c), tf.constant([seed * 7919 + e, b], tf.int64))
            for k in history:
                sums[k] = sums[k] + terms[k] * len(c)
            if bar:
                bar.add(len(c), values=[(k, float(terms[k])) for k in history])
        for k in history:
            history[k].append(float(sums[k]) / n)
    return dec, history

"""`ProtoNet`: the prototype network of Li, Liu, Chen & Rudin (AAAI 2018).

Encoder f (stride-2 3x3 convs) maps an image to a latent code z; a prototype layer holds
m learnable latent prototypes p_j and computes squared L2 distances ||z - p_j||^2; a
linear classifier h maps those m distances to class logits; a decoder g maps latent codes
back to images, so every prototype (and any latent code, e.g. an adversarial one, as in
Zheng et al., "Insights from Attacking Interpretable Models", Figs. 2-3) can be looked at.

Training minimises (Li et al. 2018, Eq. 1-4)::

    lambda_class * CE(h(d(f(x))), y) + lambda_ae * R + lambda_1 * R1 + lambda_2 * R2

with R the mean over images of the summed squared pixel error of g(f(x)), R1 the mean
over prototypes of the minimum distance to the batch's encodings (each prototype stays
near some real encoding, so it decodes to a real-looking item) and R2 the mean over
encodings of the minimum distance to any prototype (each encoding is near a prototype).
The model itself has no loss: it is trained by the ``protonet`` training step
(`tfinterp.training.step_protonet`), run by `tfinterp.training.StepTrainer`, which logs each
term as its own Keras metric. The option tables below (`ARCH_PARAMS`, `LOSS_PARAMS`) are the
one declaration of ProtoNet's options, used by this constructor, the training step and the
``train protonet`` config.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.params import Param, resolve


def squared_distances(z, prototypes):
    """Squared L2 distances [N, m] between flat codes z [N, k] and prototypes [m, k] (Li et al. 2018)."""
    z2 = tf.reduce_sum(tf.square(z), axis=1, keepdims=True)
    p2 = tf.reduce_sum(tf.square(prototypes), axis=1)[None, :]
    d = z2 - 2.0 * tf.matmul(z, prototypes, transpose_b=True) + p2
    return tf.maximum(d, 0.0)


def protonet_losses(images, labels, logits, reconstructions, distances):
    """The four ProtoNet loss terms (Li et al. 2018), each a float32 scalar.

    Returns ``{"ce", "ae", "r1", "r2"}``: mean cross-entropy; mean over images of the summed
    squared pixel error; mean over prototypes of the minimum distance to the batch's codes
    (R1); mean over codes of the minimum distance to a prototype (R2).
    """
    images = tf.cast(images, tf.float32)
    reconstructions = tf.cast(reconstructions, tf.float32)
    ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(tf.reshape(labels, [-1]), tf.int32), logits=tf.cast(logits, tf.float32)))
    ae = tf.reduce_mean(tf.reduce_sum(tf.square(reconstructions - images), axis=[1, 2, 3]))
    r1 = tf.reduce_mean(tf.reduce_min(distances, axis=0))
    r2 = tf.reduce_mean(tf.reduce_min(distances, axis=1))
    return {"ce": ce, "ae": ae, "r1": r1, "r2": r2}


DECODERS = ("deconv", "upconv", "dense-deconv")
CLASSIFIER_INITS = ("random", "class")


def _channels(v) -> bool:
    return len(v) > 0 and min(v) >= 1


# The architecture options, declared once (the model checks them; the training config reuses them).
ARCH_PARAMS = {
    "num_prototypes": Param(15, int, min=1, doc="m, the number of prototypes"),
    "latent_dim": Param(40, int, min=1, doc="size of the flat latent code"),
    "filters": Param([32, 32, 32], list, item=int, check=_channels, expect="a list of positive channel counts",
                     doc="channels of the encoder convs before the latent conv"),
    "decoder": Param("deconv", str, choices=DECODERS, doc="decoder type"),
    "decoder_filters": Param(None, list, item=int, none_ok=True, check=_channels,
                             expect="a list of positive channel counts or None",
                             doc="channels of the decoder layers before the output (None: mirror filters)"),
    "classifier_init": Param("random", str, choices=CLASSIFIER_INITS,
                             doc="random (Glorot) or class (prototype j votes for class j mod K)"),
}

# The weights of the four loss terms (Li et al. 2018: 20, 1, 1, 1), declared once.
LOSS_PARAMS = {
    "lambda_class": Param(20.0, float, min=0, doc="weight of the cross-entropy"),
    "lambda_ae": Param(1.0, float, min=0, doc="weight of the reconstruction error R"),
    "lambda_r1": Param(1.0, float, min=0, doc="weight of R1 (prototypes near some encoding)"),
    "lambda_r2": Param(1.0, float, min=0, doc="weight of R2 (encodings near some prototype)"),
}


@keras.saving.register_keras_serializable(package="tfinterp")
class PrototypeLayer(keras.layers.Layer):
    """m learnable prototypes in the flat latent space; outputs squared L2 distances (Li et al. 2018)."""

    def __init__(self, num_prototypes=15, latent_dim=40, **kwargs):
        kwargs.setdefault("dtype", "float32")  # distances in float32 under mixed precision
        super().__init__(**kwargs)
        self.num_prototypes = int(num_prototypes)
        self.latent_dim = int(latent_dim)
        # uniform [0, 1) initialisation, as in the reference code
        self.prototypes = self.add_weight(name="prototypes", shape=(self.num_prototypes, self.latent_dim),
                                          initializer=keras.initializers.RandomUniform(0.0, 1.0))
        self.built = True

    def call(self, z):
        return squared_distances(tf.cast(z, tf.float32), self.prototypes)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_prototypes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_prototypes": self.num_prototypes, "latent_dim": self.latent_dim})
        return config


def _conv_sizes(size, n):
    sizes = [size]
    for _ in range(n):
        sizes.append(math.ceil(sizes[-1] / 2))
    return sizes


@keras.saving.register_keras_serializable(package="tfinterp")
class ProtoNet(keras.Model):
    """Prototype network (Li, Liu, Chen & Rudin, AAAI 2018), as attacked by Zheng et al.

    `call(images)` returns class logits (float32). `encode`, `decode`,
    `prototype_distances`, `decoded_prototypes` and `forward_all` expose the parts. Train it
    with the ``protonet`` step: ``StepTrainer(model, "protonet")`` (`tfinterp.training`)
    minimises and logs the four-part loss (``ce``, ``ae``, ``r1``, ``r2``, ``loss``,
    ``accuracy``).

    Args:
        input_shape: (H, W, C) of [0, 1] images (default 28x28x1).
        num_classes: number of classes.
        num_prototypes: m, the number of prototypes (15 in the papers).
        latent_dim: size of the flat latent code; divided over the last conv's HxW
            (28 px, 4 convs: 2x2, so 40 -> 10 channels, the reference setting).
        filters: channels of the encoder convs before the latent conv (reference 32-32-32).
        decoder_filters: channels of the decoder's layers before the output layer, from the
            latent end; default (None) mirrors `filters`. A thinner decoder trains faster.
        decoder: ``"deconv"`` (transposed convs, as the reference), ``"upconv"``
            (nearest upsampling + conv), or ``"dense-deconv"``: one Dense layer from the code
            to the map two layers below the output, then the last two transposed convs. On a
            CPU each conv-type op costs about 1 ms at batch 250 whatever its size, so fewer,
            not thinner, layers make the decoder cheaper (benchmarks/bench_protonet_speed.py).
        lambdas: weights (class, ae, r1, r2) of the loss terms (reference 20, 1, 1, 1), kept
            with the model: the ``protonet`` training step uses them unless given its own.
        classifier_init: ``"random"`` (Glorot, as the reference) or ``"class"``: prototype j
            starts assigned to class j mod K with weight -1 (0 elsewhere), so every class
            begins with a prototype voting for it (cf. the class-connection initialisation
            of ProtoPNet, Chen et al. 2019); the weights stay fully trainable.
    """

    def __init__(self, input_shape=(28, 28, 1), num_classes=10, num_prototypes=15, latent_dim=40,
                 filters=(32, 32, 32), decoder="deconv", decoder_filters=None, lambdas=(20.0, 1.0, 1.0, 1.0), class_names=None,
                 classifier_init="random", **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in input_shape)
        if len(self.image_shape) != 3:
            raise UserError(f"ProtoNet: input_shape must be (H, W, C), got {tuple(input_shape)}")
        self.num_classes = int(num_classes)
        if self.num_classes < 2:
            raise UserError(f"ProtoNet: num_classes must be at least 2, got {self.num_classes}")
        opts = resolve(ARCH_PARAMS, {"num_prototypes": num_prototypes, "latent_dim": latent_dim,
                                     "filters": filters, "decoder": decoder,
                                     "decoder_filters": decoder_filters or None,
                                     "classifier_init": classifier_init}, owner="ProtoNet")
        self.num_prototypes = opts["num_prototypes"]
        self.latent_dim = opts["latent_dim"]
        self.filters = tuple(opts["filters"])
        self.decoder_kind = opts["decoder"]
        self.decoder_filters = (tuple(opts["decoder_filters"]) if opts["decoder_filters"]
                                else tuple(reversed(self.filters)))
        self.classifier_init = opts["classifier_init"]
        lambdas = list(lambdas)
        if len(lambdas) != len(LOSS_PARAMS):
            raise UserError(f"ProtoNet: lambdas must be 4 non-negative weights (class, ae, r1, r2), got {lambdas}")
        self.lambdas = tuple(p.coerce(k, v, "ProtoNet") for (k, p), v in zip(LOSS_PARAMS.items(), lambdas))
        self.class_names = list(class_names) if class_names else None
        if len(self.decoder_filters) != len(self.filters):
            raise UserError(f"ProtoNet: decoder_filters must be {len(self.filters)} positive channel counts "
                            f"(one per encoder conv), got {list(self.decoder_filters)}")
        h, w, c = self.image_shape
        n_conv = len(self.filters) + 1
        self._hs, self._ws = _conv_sizes(h, n_conv), _conv_sizes(w, n_conv)
        area = self._hs[-1] * self._ws[-1]
        if self.latent_dim < 1 or self.latent_dim % area:
            raise UserError(f"ProtoNet: latent_dim {self.latent_dim} must be a positive multiple of the "
                            f"latent map's {self._hs[-1]}x{self._ws[-1]} = {area} positions")
        self.latent_shape = (self._hs[-1], self._ws[-1], self.latent_dim // area)
        self.encoder = self._build_encoder()
        self.decoder = self._build_decoder()
        self.prototype_layer = PrototypeLayer(self.num_prototypes, self.latent_dim, name="prototypes")
        # logits = distances @ W (no bias); W learns negative weights (Li et al. 2018)
        self.classifier = keras.layers.Dense(self.num_classes, use_bias=False, dtype="float32", name="logits")
        self.classifier.build((None, self.num_prototypes))
        if self.classifier_init == "class":
            import numpy as np

            w = np.zeros((self.num_prototypes, self.num_classes), "float32")
            w[np.arange(self.num_prototypes), np.arange(self.num_prototypes) % self.num_classes] = -1.0
            self.classifier.kernel.assign(w)
        self.layer_aliases = {"latent": "encoder", "logits": "logits"}
        self.input_range = (0.0, 1.0)
        self.built = True

    # -- architecture -------------------------------------------------------------------
    def _build_encoder(self):
        L = keras.layers
        inp = keras.Input(shape=self.image_shape, name="images")
        x = inp
        for i, f in enumerate(self.filters, start=1):
            x = L.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"enc_conv{i}")(x)
        x = L.Conv2D(self.latent_shape[-1], 3, strides=2, padding="same", activation="relu",
                     name=f"enc_conv{len(self.filters) + 1}")(x)
        x = L.Flatten(name="latent")(x)
        return keras.Model(inp, x, name="encoder")

    def _build_decoder(self):
        L = keras.layers
        inp = keras.Input(shape=(self.latent_dim,), name="latent")
        chans = list(self.decoder_filters) + [self.image_shape[-1]]
        sizes = list(zip(reversed(self._hs[:-1]), reversed(self._ws[:-1])))
        skip = 0
        if self.decoder_kind == "dense-deconv" and len(chans) > 2:
            skip = len(chans) - 2  # the Dense layer stands for the first `skip` transposed convs
            (th, tw), f = sizes[skip - 1], chans[skip - 1]
            x = L.Dense(th * tw * f, activation="relu", name="dec_dense")(inp)
            x = L.Reshape((th, tw, f), name="unflatten")(x)
        else:
            x = L.Reshape(self.latent_shape, name="unflatten")(inp)
        for i, (f, (th, tw)) in enumerate(zip(chans, sizes), start=1):
            if i <= skip:
                continue
            last = i == len(chans)
            act = "sigmoid" if last else "relu"
            name = f"dec_conv{i}"
            if self.decoder_kind in ("deconv", "dense-deconv"):
                x = L.Conv2DTranspose(f, 3, strides=2, padding="same", activation=None if last else act,
                                      name=name)(x)
                ch, cw = x.shape[1] - th, x.shape[2] - tw
                if ch or cw:  # 4 -> 8 when the encoder went 7 -> 4: drop the extra row/column
                    x = L.Cropping2D(((0, ch), (0, cw)), name=f"dec_crop{i}")(x)
            else:
                x = L.Resizing(th, tw, interpolation="nearest", name=f"dec_up{i}")(x)
                x = L.Conv2D(f, 3, padding="same", activation=None if last else act, name=name)(x)
            if last:
                x = L.Activation("sigmoid", dtype="float32", name="reconstruction")(x)
        return keras.Model(inp, x, name="decoder")

    @property
    def input_shape(self):
        return (None,) + self.image_shape

    def build(self, input_shape=None):
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    # -- the parts ----------------------------------------------------------------------
    def encode(self, images, training=False):
        """Flat latent codes f(x) [N, latent_dim]."""
        return self.encoder(images, training=training)

    def decode(self, codes, training=False):
        """Images g(z) [N, H, W, C] in [0, 1] (float32) from flat latent codes."""
        return tf.cast(self.decoder(codes, training=training), tf.float32)

    def prototype_distances(self, images, training=False):
        """Squared L2 distances [N, m] from each image's code to every prototype."""
        return self.prototype_layer(self.encode(images, training=training))

    @property
    def prototypes(self):
        """The prototype vectors [m, latent_dim]."""
        return self.prototype_layer.prototypes

    def decoded_prototypes(self):
        """The prototypes decoded to images [m, H, W, C] (Li et al. 2018, Fig. 2 of Zheng et al.)."""
        return self.decode(tf.convert_to_tensor(self.prototypes))

    def call(self, images, training=False):
        return self.classifier(self.prototype_distances(images, training=training))

    def forward_all(self, images, training=False):
        """(logits, reconstructions, distances, codes) in one pass."""
        z = self.encode(images, training=training)
        d = self.prototype_layer(z)
        return self.classifier(d), self.decode(z, training=training), d, z

    def serving_outputs(self, images):
        """Extra serving outputs: nearest prototype index and all prototype distances."""
        d = self.prototype_distances(images)
        return {"prototype_distances": d,
                "nearest_prototype": tf.argmin(d, axis=-1, output_type=tf.int64)}

    def get_config(self):
        config = super().get_config()
        config.update({"input_shape": list(self.image_shape), "num_classes": self.num_classes,
                       "num_prototypes": self.num_prototypes, "latent_dim": self.latent_dim,
                       "filters": list(self.filters), "decoder": self.decoder_kind,
                       "decoder_filters": list(self.decoder_filters),
                       "lambdas": list(self.lambdas), "class_names": self.class_names,
                       "classifier_init": self.classifier_init})
        return config

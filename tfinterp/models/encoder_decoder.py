"""`EncoderDecoder`: the encoder-classifier-decoder of Zheng et al., "Insights from Attacking
Interpretable Models" (section 3, Table 3, Figure 5).

An image x is mapped by the convolutional encoder f to a latent map z = f(x); the fully
connected classifier g predicts the class from z, and the deconvolutional decoder h
reconstructs an image from z:

- f: the `madry` architecture (Madry et al. 2018; `tfinterp.models.archs.build_madry`) up to
  its ``pool2`` (the 7x7x64 map the paper calls ``pool5``): conv 5x5x32, pool, conv 5x5x64, pool;
- g: flatten, FC 1024 (ReLU), FC logits;
- h: deconv 5x5x64 (stride 2), deconv 5x5x32 (stride 2), then a 5x5 conv to the input's
  channels with a sigmoid, so the output has the input's shape and range [0, 1]. One
  addition to the paper's table: a batch normalisation of the code at h's input (without it
  the decoder of a trained classifier's small pool5 codes collapses to a constant black
  image on MNIST; measured here, 120 Adam steps: MSE per pixel 0.118 without, 0.008 with).

`call` returns g(f(x)), the logits, so every attack, explainer and run treats the model as a
classifier. Layer access works as for the zoo's classifiers: ``backbone`` is the functional
classifier graph (the encoder and the classifier as nested models) and ``layer_aliases``
name ``pool5`` / ``latent`` (the encoder's output), ``last_conv``, ``fc1`` and ``logits``.
`encode` / `decode` expose f and h, as ProtoNet's do, so the adversarial-latent run decodes
attacked codes of either. The model is trained in two stages (`tfinterp.training.encoder_decoder`):
f and g as a classifier (naturally, or with the ``madry`` step), then h alone on the latent
codes of adversarial examples (the ``adaptive_decoder`` step).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinterp.errors import UserError


@keras.saving.register_keras_serializable(package="tfinterp")
class EncoderDecoder(keras.Model):
    """Encoder f, classifier g and decoder h of Zheng et al. (Table 3); `call` gives the logits.

    Args:
        input_shape: (H, W, C) of [0, 1] images (default 28x28x1, MNIST); H and W must be
            divisible by 4 (the encoder pools twice, the decoder upsamples twice).
        num_classes: number of classes.
        class_names: optional names of the classes.
        decoder_filters: channels of the two transposed convolutions (the paper's 64, 32).
    """

    def __init__(self, input_shape=(28, 28, 1), num_classes=10, class_names=None, decoder_filters=(64, 32),
                 **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in input_shape)
        if len(self.image_shape) != 3:
            raise UserError(f"encoder_decoder: input_shape must be (H, W, C), got {tuple(input_shape)}")
        h, w, c = self.image_shape
        if h % 4 or w % 4 or h < 4 or w < 4:
            raise UserError(f"encoder_decoder: height and width must be multiples of 4 (two 2x2 poolings and "
                            f"two stride-2 deconvolutions), got {h}x{w}")
        self.num_classes = int(num_classes)
        if self.num_classes < 2:
            raise UserError(f"encoder_decoder: num_classes must be at least 2, got {self.num_classes}")
        self.decoder_filters = tuple(int(f) for f in decoder_filters)
        if len(self.decoder_filters) != 2 or min(self.decoder_filters) < 1:
            raise UserError(f"encoder_decoder: decoder_filters must be two positive channel counts, "
                            f"got {list(decoder_filters)}")
        self.class_names = list(class_names) if class_names else None
        self.encoder, self.classifier = self._build_encoder_classifier()
        self.latent_shape = tuple(int(s) for s in self.encoder.output.shape[1:])
        inp = keras.Input(shape=self.image_shape, name="images")
        self.backbone = keras.Model(inp, self.classifier(self.encoder(inp)), name="encoder_classifier")
        self.decoder = self._build_decoder()
        self.layer_aliases = {"pool5": "encoder/pool2", "latent": "encoder/pool2", "last_conv": "encoder/conv2",
                              "fc1": "classifier/fc1", "features": "classifier/fc1", "logits": "classifier/logits"}
        self.input_range = (0.0, 1.0)
        self.built = True

    # -- architecture -------------------------------------------------------------------
    def _build_encoder_classifier(self):
        from tfinterp.models.archs import build_madry

        madry, _ = build_madry(input_shape=self.image_shape, num_classes=self.num_classes)
        encoder = keras.Model(madry.input, madry.get_layer("pool2").output, name="encoder")
        z = keras.Input(shape=tuple(encoder.output.shape[1:]), name="latent")
        x = z
        for name in ("flatten", "fc1", "logits"):  # g: the same layers (and weights) as madry's head
            x = madry.get_layer(name)(x)
        classifier = keras.Model(z, x, name="classifier")
        return encoder, classifier

    def _build_decoder(self):
        L = keras.layers
        f1, f2 = self.decoder_filters
        z = keras.Input(shape=self.latent_shape, name="latent")
        # the latent code normalised per channel first: a classifier's pool5 codes are small (mean ~0.1 on
        # MNIST), and without it the decoder collapses to a black image within tens of Adam steps
        # (momentum 0.9: stage 2 is a few hundred steps here; 0.99 would leave the moving statistics
        # near their initial 0 / 1 at the end)
        x = L.BatchNormalization(momentum=0.9, name="latent_norm")(z)
        x = L.Conv2DTranspose(f1, 5, strides=2, padding="same", activation="relu", name="deconv1")(x)
        x = L.Conv2DTranspose(f2, 5, strides=2, padding="same", activation="relu", name="deconv2")(x)
        x = L.Conv2D(self.image_shape[-1], 5, padding="same", name="output_conv")(x)
        x = L.Activation("sigmoid", dtype="float32", name="reconstruction")(x)
        return keras.Model(z, x, name="decoder")

    @property
    def input_shape(self):
        return (None,) + self.image_shape

    def build(self, input_shape=None):
        self.built = True

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    # -- the parts ----------------------------------------------------------------------
    def call(self, images, training=False):
        """Logits g(f(x)) (float32)."""
        return keras.ops.cast(self.backbone(images, training=training), "float32")

    def encode(self, images, training=False):
        """Latent maps f(x) [N, H/4, W/4, 64]."""
        return self.encoder(images, training=training)

    def classify(self, codes, training=False):
        """Logits g(z) from latent maps."""
        return keras.ops.cast(self.classifier(codes, training=training), "float32")

    def decode(self, codes, training=False):
        """Reconstructions h(z) [N, H, W, C] in [0, 1] (float32) from latent maps."""
        return tf.cast(self.decoder(codes, training=training), tf.float32)

    def reconstruct(self, images, training=False):
        """h(f(x))."""
        return self.decode(self.encode(images, training=training), training=training)

    def forward_all(self, images, training=False):
        """(logits, reconstructions, latent codes) in one pass."""
        z = self.encode(images, training=training)
        return self.classify(z, training=training), self.decode(z, training=training), z

    def set_stage(self, stage: int):
        """Stage 1: f and g trainable, h frozen; stage 2: f and g frozen, h trainable (Zheng et al.);
        0: everything trainable (the saved state)."""
        if stage not in (0, 1, 2):
            raise ValueError(f"stage must be 0, 1 or 2, got {stage}")
        self.encoder.trainable = stage != 2
        self.classifier.trainable = stage != 2
        self.decoder.trainable = stage != 1

    def get_config(self):
        config = super().get_config()
        config.update({"input_shape": list(self.image_shape), "num_classes": self.num_classes,
                       "class_names": self.class_names, "decoder_filters": list(self.decoder_filters)})
        return config

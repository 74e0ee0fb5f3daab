"""`Classifier`: the zoo's Keras model class, a subclassed `keras.Model` around a backbone."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfinterp.errors import UserError
from tfinterp.models.archs import ARCHS


@keras.saving.register_keras_serializable(package="tfinterp")
class Classifier(keras.Model):
    """An image classifier of the zoo: [0,1] images in, logits out.

    ``weights`` ("auto", "imagenet" or None) matters only for vgg16 / vgg19 / resnet50:
    "auto" loads ImageNet weights at their native shape and initialises randomly otherwise.

    Wraps a functional backbone (``self.backbone``) built by name, so intermediate layers
    are reachable through `tfinterp.models.feature_model` by the canonical aliases in
    ``self.layer_aliases`` (``pool5``, ``conv5_4``, ``last_conv``, ``logits``). Serialises
    with `get_config`, so `.keras` files load in Keras' safe mode.
    """

    def __init__(self, arch="vggsmall", input_shape=None, num_classes=None, arch_kwargs=None,
                 class_names=None, weights="auto", **kwargs):
        super().__init__(**kwargs)
        if arch not in ARCHS:
            raise UserError(f"unknown architecture '{arch}'; known: {', '.join(ARCHS)}")
        builder, _, default_shape, default_classes = ARCHS[arch]
        self.arch = arch
        self.image_shape = tuple(int(s) for s in (input_shape or default_shape))
        self.num_classes = int(num_classes or default_classes)
        if self.num_classes < 2:
            raise UserError(f"num_classes must be at least 2, got {self.num_classes}")
        self.arch_kwargs = dict(arch_kwargs or {})
        self.class_names = list(class_names) if class_names else None
        kw = dict(self.arch_kwargs)
        if arch in ("vgg16", "vgg19", "resnet50"):
            # "auto": ImageNet weights at the native 224x224x3 / 1000-class shape, else random init
            if weights == "auto":
                native = self.image_shape == default_shape and self.num_classes == default_classes
                weights = "imagenet" if native else None
            kw["weights"] = weights
        self.backbone, self.layer_aliases = builder(input_shape=self.image_shape,
                                                    num_classes=self.num_classes, **kw)
        self.input_range = (0.0, 1.0)
        self.built = True  # the backbone is a built functional graph

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    @property
    def input_shape(self):
        return (None,) + self.image_shape

    def call(self, images, training=False):
        # logits in float32 even under a mixed-precision policy
        return keras.ops.cast(self.backbone(images, training=training), "float32")

    def build(self, input_shape=None):
        self.built = True

    def predict_proba(self, images, batch_size=256):
        """Softmax probabilities as NumPy, batched."""
        logits = self.predict(images, batch_size=batch_size, verbose=0)
        return tf.nn.softmax(logits).numpy()

    def get_config(self):
        config = super().get_config()
        config.update({"arch": self.arch, "input_shape": list(self.image_shape),
                       "num_classes": self.num_classes, "arch_kwargs": self.arch_kwargs,
                       "class_names": self.class_names,
                       "weights": None})  # weights come from the saved file, never a download
        return config

"""Backbone builders: functional graphs mapping [0,1] images to logits, with layer aliases.

- ``vgg16`` / ``vgg19`` / ``resnet50``: keras.applications at 224x224 (ImageNet weights
  when cached or downloadable; ``weights=None`` for any shape, as in the tests), nested as
  a sub-model behind a Caffe-style preprocessing layer, so every zoo model takes [0,1].
- ``vggsmall``: a VGG-style net for 28/32/64 px inputs (Simonyan & Zisserman 2015).
- ``resnet18``: the CIFAR-style ResNet-18 (He et al. 2016), width configurable.
- ``cnn2``: the 2-conv Fashion-MNIST CNN of the zalandoresearch benchmark (32-64, Dense 128).
- ``madry``: the MNIST challenge CNN of Madry et al. 2018 (conv5x5x32, conv5x5x64, FC 1024).

Each builder returns (functional model, aliases), aliases mapping canonical names used by
the papers (``pool5``, ``conv5_4``, ``last_conv``, ``logits``) to layer paths.
"""

from __future__ import annotations

import keras
from keras import layers

from tfinterp.errors import UserError


@keras.saving.register_keras_serializable(package="tfinterp")
class CaffePreprocess(layers.Layer):
    """[0,1] RGB -> the 0..255 BGR mean-subtracted input that keras.applications VGG/ResNet50 expect."""

    MEAN_BGR = (103.939, 116.779, 123.68)

    def call(self, x):
        x = x * 255.0
        x = keras.ops.flip(x, axis=-1)
        return x - keras.ops.convert_to_tensor(self.MEAN_BGR, dtype=x.dtype)


def _check_shape(input_shape, name):
    if len(input_shape) != 3:
        raise UserError(f"{name}: input_shape must be (H, W, C), got {tuple(input_shape)}")


def build_vggsmall(input_shape=(64, 64, 1), num_classes=10, filters=None, convs=None, dense=256,
                   dropout=0.3):
    """VGG-style classifier for small images: blocks of 3x3 convs (ReLU) and 2x2 max pooling."""
    _check_shape(input_shape, "vggsmall")
    if filters is None:
        filters = (16, 32, 64, 128) if min(input_shape[:2]) >= 48 else (32, 64, 128)
    if convs is None:
        convs = (1, 1, 2, 2) if len(filters) == 4 else (1, 2, 2)
    filters, convs = tuple(filters), tuple(convs)
    if len(filters) != len(convs):
        raise UserError("vggsmall: filters and convs must have the same length")
    inp = keras.Input(shape=tuple(input_shape), name="images")
    x = inp
    last_conv = None
    for b, (f, n) in enumerate(zip(filters, convs), start=1):
        for c in range(1, n + 1):
            last_conv = f"block{b}_conv{c}"
            x = layers.Conv2D(f, 3, padding="same", activation="relu", name=last_conv)(x)
        x = layers.MaxPooling2D(2, name=f"block{b}_pool")(x)
    pool = f"block{len(filters)}_pool"
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(num_classes, name="logits")(x)
    model = keras.Model(inp, out, name="vggsmall")
    aliases = {"last_conv": last_conv, "conv5_4": last_conv, "conv5_3": last_conv, "pool5": pool,
               "fc1": "fc1", "features": "fc1", "logits": "logits"}
    return model, aliases


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv1")(x)
    y = layers.BatchNormalization(name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv2")(y)
    y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    if stride != 1 or shortcut.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, strides=stride, use_bias=False, name=f"{name}_proj")(shortcut)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def build_resnet18(input_shape=(32, 32, 3), num_classes=10, width=64):
    """CIFAR-style ResNet-18: 3x3 stem, four stages of two basic blocks, global average pooling."""
    _check_shape(input_shape, "resnet18")
    inp = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Conv2D(width, 3, padding="same", use_bias=False, name="stem_conv")(inp)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for s, mult in enumerate((1, 2, 4, 8), start=1):
        for b in (1, 2):
            stride = 2 if (b == 1 and s > 1) else 1
            x = _basic_block(x, width * mult, stride, f"stage{s}_block{b}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    out = layers.Dense(num_classes, name="logits")(x)
    model = keras.Model(inp, out, name="resnet18")
    aliases = {"last_conv": "stage4_block2_out", "pool5": "avg_pool", "features": "avg_pool",
               "logits": "logits"}
    return model, aliases


def build_cnn2(input_shape=(28, 28, 1), num_classes=10):
    """The 2-conv CNN of the Fashion-MNIST benchmark: conv32, pool, conv64, pool, Dense 128."""
    _check_shape(input_shape, "cnn2")
    inp = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="fc1")(x)
    out = layers.Dense(num_classes, name="logits")(x)
    aliases = {"last_conv": "conv2", "pool5": "pool2", "features": "fc1", "logits": "logits"}
    return keras.Model(inp, out, name="cnn2"), aliases


def build_madry(input_shape=(28, 28, 1), num_classes=10):
    """Madry et al. (2018) MNIST challenge CNN: conv5x5x32+pool, conv5x5x64+pool, FC 1024, FC 10."""
    _check_shape(input_shape, "madry")
    inp = keras.Input(shape=tuple(input_shape), name="images")
    x = layers.Conv2D(32, 5, padding="same", activation="relu", name="conv1")(inp)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 5, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(1024, activation="relu", name="fc1")(x)
    out = layers.Dense(num_classes, name="logits")(x)
    aliases = {"last_conv": "conv2", "pool5": "pool2", "features": "fc1", "logits": "logits"}
    return keras.Model(inp, out, name="madry"), aliases


_APPS = {
    "vgg16": ("VGG16", {"last_conv": "block5_conv3", "conv5_3": "block5_conv3", "pool5": "block5_pool",
                        "fc7": "fc2", "logits": "predictions"}),
    "vgg19": ("VGG19", {"last_conv": "block5_conv4", "conv5_4": "block5_conv4", "pool5": "block5_pool",
                        "fc7": "fc2", "logits": "predictions"}),
    "resnet50": ("ResNet50", {"last_conv": "conv5_block3_out", "pool5": "avg_pool",
                              "logits": "predictions"}),
}


def build_application(arch, input_shape=(224, 224, 3), num_classes=1000, weights="imagenet"):
    """keras.applications VGG16 / VGG19 / ResNet50 nested behind [0,1] -> Caffe preprocessing.

    ImageNet weights need input (224, 224, 3) and 1000 classes; `weights=None` gives a
    randomly initialised network of any size (>= 32 px), as used offline and in tests.
    """
    fn_name, inner_aliases = _APPS[arch]
    _check_shape(input_shape, arch)
    if input_shape[2] != 3:
        raise UserError(f"{arch} takes RGB input (3 channels), got {input_shape[2]}")
    if weights == "imagenet" and (tuple(input_shape) != (224, 224, 3) or num_classes != 1000):
        raise UserError(f"{arch} ImageNet weights need input_shape (224, 224, 3) and 1000 classes; "
                        "pass weights=None for other shapes")
    fn = getattr(keras.applications, fn_name)
    try:
        inner = fn(include_top=True, weights=weights, input_shape=tuple(input_shape), classes=num_classes,
                   classifier_activation=None, name=arch)
    except Exception as e:
        if weights == "imagenet":
            raise UserError(f"ImageNet weights for {arch} are not cached under ~/.keras/models and could "
                            f"not be downloaded ({type(e).__name__}); go online once, or use weights=None")
        raise
    inp = keras.Input(shape=tuple(input_shape), name="images")
    x = CaffePreprocess(name="preprocess")(inp)
    out = inner(x)
    model = keras.Model(inp, out, name=f"{arch}_classifier")
    aliases = {k: f"{arch}/{v}" for k, v in inner_aliases.items()}
    return model, aliases


ARCHS = {
    "vggsmall": (build_vggsmall, "VGG-style CNN for 28/32/64 px inputs (default 64x64x1)", (64, 64, 1), 10),
    "resnet18": (build_resnet18, "CIFAR-style ResNet-18 (default 32x32x3)", (32, 32, 3), 10),
    "cnn2": (build_cnn2, "2-conv Fashion-MNIST benchmark CNN (28x28x1)", (28, 28, 1), 10),
    "madry": (build_madry, "Madry et al. MNIST challenge CNN (28x28x1)", (28, 28, 1), 10),
    "vgg16": (lambda **kw: build_application("vgg16", **kw), "keras.applications VGG16, 224x224x3, ImageNet",
              (224, 224, 3), 1000),
    "vgg19": (lambda **kw: build_application("vgg19", **kw), "keras.applications VGG19, 224x224x3, ImageNet",
              (224, 224, 3), 1000),
    "resnet50": (lambda **kw: build_application("resnet50", **kw),
                 "keras.applications ResNet50, 224x224x3, ImageNet", (224, 224, 3), 1000),
}

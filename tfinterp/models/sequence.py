"""Sequence classifiers of the zoo: one-hot ``(length, alphabet_size)`` in, logits out.

- ``seqcnn``: the DeepBind architecture (Alipanahi et al. 2015): one convolution whose filters
  are motif detectors (``conv1``, ReLU), max pooling over positions (``pool1``; global, as in
  DeepBind, or windows of ``pool_size``), a small ReLU dense layer (``fc1``) and the logits.
- ``seqlstm``: a convolution + bidirectional LSTM (the DanQ layout, Quang & Xie 2016, that
  Lanchantin et al. 2016 compare with CNNs): ``conv1`` (ReLU), ``pool1`` (windows of
  ``pool_size``), ``bilstm`` (a Bidirectional LSTM, last states), ``fc1``, ``logits``.

Both work for any alphabet (DNA: 4 columns, protein: 20) and sequence length. The first
convolution is the layer named ``conv1`` (alias ``first_conv``; ``last_conv`` is the same
layer for these one-convolution nets), its ``(kernel_size, alphabet_size, filters)`` kernel is
what the filter logos of Fontal (2017) read. The convolutions use ``valid`` padding, so the
activation at position p sees the input window ``[p, p + kernel_size)``.
"""

from __future__ import annotations

import keras
from keras import layers

from tfinterp.errors import UserError


def _check_shape(input_shape, name):
    if len(input_shape) != 2 or any(int(s) < 1 for s in input_shape):
        raise UserError(f"{name}: input_shape must be (length, alphabet_size), got {tuple(input_shape)}")
    return tuple(int(s) for s in input_shape)


def _check_kernel(length, kernel_size, name):
    if not 1 <= int(kernel_size) <= length:
        raise UserError(f"{name}: kernel_size {kernel_size} must be between 1 and the sequence length {length}")


def build_seqcnn(input_shape=(100, 4), num_classes=4, filters=16, kernel_size=12, pool_size=None, dense=32,
                 dropout=0.2):
    """DeepBind-like 1D CNN (Alipanahi et al. 2015): conv1 (ReLU) -> max pool -> fc1 (ReLU) -> logits.

    ``pool_size=None`` pools globally (DeepBind's max over all positions); an integer pools
    windows of that many positions and flattens them.
    """
    length, _ = _check_shape(input_shape, "seqcnn")
    _check_kernel(length, kernel_size, "seqcnn")
    inp = keras.Input(shape=(length, input_shape[1]), name="sequences")
    x = layers.Conv1D(int(filters), int(kernel_size), activation="relu", name="conv1")(inp)
    if pool_size is None:
        x = layers.GlobalMaxPooling1D(name="pool1")(x)
    else:
        x = layers.MaxPooling1D(int(pool_size), name="pool1")(x)
        x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(int(dense), activation="relu", name="fc1")(x)
    x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(int(num_classes), name="logits")(x)
    aliases = {"first_conv": "conv1", "last_conv": "conv1", "conv1": "conv1", "pool": "pool1",
               "pool5": "pool1", "features": "fc1", "fc1": "fc1", "logits": "logits"}
    return keras.Model(inp, out, name="seqcnn"), aliases


def build_seqlstm(input_shape=(100, 4), num_classes=4, filters=16, kernel_size=12, pool_size=4, units=16,
                  dense=32, dropout=0.2):
    """Conv + BiLSTM (DanQ, Quang & Xie 2016): conv1 (ReLU) -> max pool -> Bidirectional LSTM -> fc1 -> logits."""
    length, _ = _check_shape(input_shape, "seqlstm")
    _check_kernel(length, kernel_size, "seqlstm")
    if (length - int(kernel_size) + 1) // int(pool_size) < 1:
        raise UserError(f"seqlstm: pool_size {pool_size} leaves no positions after the convolution "
                        f"(length {length}, kernel_size {kernel_size})")
    inp = keras.Input(shape=(length, input_shape[1]), name="sequences")
    x = layers.Conv1D(int(filters), int(kernel_size), activation="relu", name="conv1")(inp)
    x = layers.MaxPooling1D(int(pool_size), name="pool1")(x)
    x = layers.Bidirectional(layers.LSTM(int(units)), name="bilstm")(x)
    x = layers.Dense(int(dense), activation="relu", name="fc1")(x)
    x = layers.Dropout(float(dropout), name="dropout")(x)
    out = layers.Dense(int(num_classes), name="logits")(x)
    aliases = {"first_conv": "conv1", "last_conv": "conv1", "conv1": "conv1", "pool": "pool1",
               "pool5": "pool1", "lstm": "bilstm", "features": "fc1", "fc1": "fc1", "logits": "logits"}
    return keras.Model(inp, out, name="seqlstm"), aliases


SEQ_ARCHS = {
    "seqcnn": (build_seqcnn, "DeepBind-like 1D CNN on one-hot sequences (conv, ReLU, max-pool, dense; "
                             "default 100x4 DNA)"),
    "seqlstm": (build_seqlstm, "conv + bidirectional LSTM on one-hot sequences (DanQ-like; default 100x4 DNA)"),
}


@keras.saving.register_keras_serializable(package="tfinterp")
class SequenceClassifier(keras.Model):
    """A one-hot sequence classifier of the zoo (``seqcnn`` or ``seqlstm``): (N, L, A) in, logits out.

    Wraps a functional backbone (``self.backbone``) so layers are reachable through
    `tfinterp.models.feature_model` by the aliases in ``self.layer_aliases`` (``first_conv``,
    ``last_conv``, ``pool``, ``features``, ``logits``). ``alphabet`` (``"dna"``, ``"protein"``
    or the letters) records what the columns mean, for decoding and logos. Serialises with
    `get_config`. References: Alipanahi et al. 2015 (DeepBind); Quang & Xie 2016 (DanQ).
    """

    def __init__(self, arch="seqcnn", input_shape=None, num_classes=None, arch_kwargs=None, class_names=None,
                 alphabet="dna", **kwargs):
        kwargs.pop("weights", None)
        super().__init__(**kwargs)
        if arch not in SEQ_ARCHS:
            raise UserError(f"unknown sequence architecture '{arch}'; known: {', '.join(SEQ_ARCHS)}")
        from tfinterp.data.sequences import alphabet_letters

        self.arch = arch
        self.alphabet = alphabet
        letters = alphabet_letters(alphabet)
        self.sequence_shape = tuple(int(s) for s in (input_shape or (100, len(letters))))
        if len(self.sequence_shape) != 2:
            raise UserError(f"{arch}: input_shape must be (length, alphabet_size), got {self.sequence_shape}")
        if self.sequence_shape[1] != len(letters):
            raise UserError(f"{arch}: input has {self.sequence_shape[1]} columns but the {alphabet} alphabet "
                            f"has {len(letters)} letters ({letters})")
        self.num_classes = int(num_classes or 4)
        if self.num_classes < 2:
            raise UserError(f"num_classes must be at least 2, got {self.num_classes}")
        self.arch_kwargs = dict(arch_kwargs or {})
        self.class_names = list(class_names) if class_names else None
        builder = SEQ_ARCHS[arch][0]
        try:
            self.backbone, self.layer_aliases = builder(input_shape=self.sequence_shape,
                                                        num_classes=self.num_classes, **self.arch_kwargs)
        except TypeError as e:
            raise UserError(f"{arch}: bad architecture option ({e})") from None
        self.input_range = (0.0, 1.0)
        self.built = True

    @property
    def letters(self) -> str:
        from tfinterp.data.sequences import alphabet_letters

        return alphabet_letters(self.alphabet)

    @property
    def input_shape(self):
        return (None,) + self.sequence_shape

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def call(self, sequences, training=False):
        return keras.ops.cast(self.backbone(sequences, training=training), "float32")

    def build(self, input_shape=None):
        self.built = True

    def get_config(self):
        config = super().get_config()
        config.update({"arch": self.arch, "input_shape": list(self.sequence_shape),
                       "num_classes": self.num_classes, "arch_kwargs": self.arch_kwargs,
                       "class_names": self.class_names, "alphabet": self.alphabet})
        return config

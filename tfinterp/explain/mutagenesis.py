"""In-silico mutagenesis (``ism``): every position of a one-hot sequence to every other letter.

Zhou & Troyanskaya 2015 ("Predicting effects of noncoding variants with deep learning-based
sequence model", DeepSEA) score a sequence's variants by running the model on each mutated
sequence. The map is ``delta[i, b] = f_c(x with position i set to letter b) - f_c(x)`` for
every position i and every letter b other than the present one (0 at the present letter), on
the target's logit (or its softmax probability); ``positions`` reduces it to the mean loss of
score when position i is mutated, ``-sum_b delta[i, b] / (alphabet - 1)``, positive where the
present letter matters.

How: a block of ``batch_size`` sequences is one `tf.function` call. Inside it the reference
scores come from one forward pass, and the ``block * length * (alphabet - 1)`` mutants are
built in the graph from their index (sequence, position, letter) ``chunk`` at a time (equal
chunks of at most ``chunk``), each chunk one forward pass of the model in a `tf.while_loop`, so no mutant array is ever held in
NumPy and the only cost beyond the model's forward passes is writing one row per mutant. A
row that is not one-hot (an ``N`` as uniform 0.25, padding as zeros) is mutated to the
letters other than its first largest entry, whose map entry stays 0.
"""

from __future__ import annotations

import tensorflow as tf

from tfinterp.explain.base import Explainer, gather_target, register
from tfinterp.params import Param


def mutant_rows(x, index, alphabet: int):
    """The mutants number `index` (a vector) of the sequences `x` (B, length, alphabet).

    Mutant ``m`` is sequence ``m // (length * (alphabet - 1))``, position
    ``(m // (alphabet - 1)) % length``, set to the letter ``(present + 1 + m % (alphabet - 1)) %
    alphabet``. Returns (mutants (M, length, alphabet), their sequence indices (M,)).
    """
    length = tf.shape(x)[1]
    per_pos = alphabet - 1
    seq = index // (length * per_pos)
    pos = (index // per_pos) % length
    shift = index % per_pos + 1
    rows = tf.gather(x, seq)                                              # (M, L, A)
    present = tf.argmax(tf.gather_nd(x, tf.stack([seq, pos], 1)), axis=-1, output_type=tf.int32)
    letter = (present + shift) % alphabet
    at = tf.one_hot(pos, length, dtype=x.dtype)[:, :, None]             # (M, L, 1)
    new = tf.one_hot(letter, alphabet, dtype=x.dtype)[:, None, :]       # (M, 1, A)
    return rows * (1.0 - at) + at * new, seq


@register("ism")
class InSilicoMutagenesis(Explainer):
    """In-silico mutagenesis (Zhou & Troyanskaya 2015): the score change of every single-letter
    substitution, (N, length, alphabet), all mutants of a block in one compiled pass."""

    inputs = ("sequences",)
    params = {
        "probability": Param(False, bool, doc="score the softmax probability (else the logit)"),
        "chunk": Param(2048, int, min=1, doc="mutants per forward pass inside the compiled block"),
        "batch_size": Param(8, int, min=1, doc="sequences per compiled block"),
    }

    def _score(self, x, targets):
        logits = tf.cast(self.model(x, training=False), tf.float32)
        return gather_target(tf.nn.softmax(logits) if self.probability else logits, targets)

    def attribute_letters(self, seqs, targets):
        alphabet = int(self.input_shape[1])
        b, length = tf.shape(seqs)[0], tf.shape(seqs)[1]
        ref = self._score(seqs, targets)                                  # (B,)
        total = b * length * (alphabet - 1)
        steps = (total + self.chunk - 1) // self.chunk
        chunk = (total + steps - 1) // steps  # equal chunks of at most `self.chunk`: < steps mutants wasted
        out = tf.TensorArray(tf.float32, size=steps)

        def body(k, out):
            index = k * chunk + tf.range(chunk)
            index = tf.minimum(index, total - 1)  # the last chunk may repeat the last mutant (dropped below)
            mutants, seq = mutant_rows(seqs, index, alphabet)
            return k + 1, out.write(k, self._score(mutants, tf.gather(targets, seq)) - tf.gather(ref, seq))

        _, out = tf.while_loop(lambda k, _: k < steps, body, [tf.constant(0), out])
        delta = tf.reshape(out.stack(), [-1])[:total]
        delta = tf.reshape(delta, tf.stack([b, length, alphabet - 1]))
        present = tf.argmax(seqs, axis=-1, output_type=tf.int32)          # (B, L)
        letters = (present[..., None] + tf.range(1, alphabet)[None, None]) % alphabet  # (B, L, A-1)
        return tf.reduce_sum(delta[..., None] * tf.one_hot(letters, alphabet), axis=2)

    def positions(self, maps):
        """Mean loss of score when a position is mutated: ``-sum_b delta[i, b] / (alphabet - 1)``."""
        import numpy as np

        maps = np.asarray(maps, dtype=np.float32)
        return -maps.sum(axis=-1) / max(maps.shape[-1] - 1, 1)

"""Fixtures of the stylizer tests: small content images, a tiny style bank, a decoder trained in seconds."""

import numpy as np
import pytest


def _contents(n=12, size=16, seed=0):
    """Bright rectangles (the 'items') on black, with some inner texture."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        t, l = rng.integers(1, size // 3, 2)
        h, w = rng.integers(size // 3, size // 2 + 2, 2)
        x[i, t:t + h, l:l + w, 0] = rng.uniform(0.4, 1.0, (h, w))
    return x


@pytest.fixture(scope="session")
def contents():
    return _contents()


@pytest.fixture(scope="session")
def styles():
    from tfinterp.training.stylizers.styles import seeded_textures

    return seeded_textures(16, 4, seed=3)[0][..., None]


@pytest.fixture(scope="session")
def trained_decoder(styles):
    """An AdaIN decoder (random encoder) trained for a few seconds on 16x16 images."""
    from tfinterp.training.style_decoder import encoder_spec, train_style_decoder

    x = _contents(64, 16, seed=1)
    dec, hist = train_style_decoder(x, styles, encoder_spec("random", 1, 0, kernels=(3, 5), filters=8),
                                    epochs=30, batch_size=32, learning_rate=3e-3, filters=(16, 16), verbose=0)
    return dec, hist

"""Every registered stylizer: shapes, range, determinism, batching, masks, bad parameters."""

import numpy as np
import pytest

from tfinterp.errors import UserError
from tfinterp.training.stylizers.base import STYLIZERS, get_stylizer

NAMES = STYLIZERS.names()


@pytest.fixture
def make(trained_decoder, styles):
    def build(name, **params):
        extra = {"model": trained_decoder[0]} if name == "adain" else {}
        return get_stylizer(name, styles=styles, **extra, **params)
    return build


def test_registry_lists_the_three_stylizers():
    assert set(NAMES) == {"fourier", "adain", "texture-fill"}


@pytest.mark.parametrize("name", NAMES)
def test_shape_range_and_dtype(name, make, contents):
    out = make(name)(contents)
    assert out.shape == contents.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.all(np.isfinite(out))
    assert np.abs(out - contents).max() > 0.05  # it changed something


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_and_independent_of_batch_size(name, make, contents):
    st = make(name)
    a = st(contents, seed=5, batch_size=12)
    b = st(contents, seed=5, batch_size=5)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(make(name)(contents, seed=5), a, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_seed_picks_other_styles(name, make, contents):
    st = make(name)
    assert not np.allclose(st(contents, seed=0), st(contents, seed=1))


@pytest.mark.parametrize("name", NAMES)
def test_in_graph_stylize_matches_the_array_call(name, make, contents):
    import tensorflow as tf

    st = make(name)
    idx = st.style_indices(len(contents), 16, 1, seed=2)
    got = tf.function(st.stylize_with)(tf.constant(contents), tf.constant(idx)).numpy()
    np.testing.assert_allclose(got, st(contents, seed=2), atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_bad_parameters_are_user_errors(name, make):
    with pytest.raises(UserError, match="batch_size"):
        make(name, batch_size=0)
    with pytest.raises(UserError, match="unknown parameter"):
        make(name, nonsense=1)


@pytest.mark.parametrize("name", NAMES)
def test_bad_images_are_user_errors(name, make):
    with pytest.raises(UserError):
        make(name)(np.zeros((2, 16, 12, 1), np.float32))
    with pytest.raises(UserError):
        make(name)(np.full((2, 16, 16, 1), np.nan, np.float32))


def test_unknown_stylizer_lists_the_known_ones():
    with pytest.raises(UserError, match="unknown stylizer 'cartoon'.*fourier"):
        get_stylizer("cartoon")

import numpy as np
import pytest
from PIL import Image

from tfinterp.data import read_image
from tfinterp.errors import UserError


@pytest.mark.parametrize("fmt,ext", [("PNG", "png"), ("BMP", "bmp"), ("GIF", "gif"), ("JPEG", "jpg")])
def test_formats_roundtrip(tmp_path, fmt, ext):
    arr = np.zeros((16, 16), np.uint8)
    arr[4:12, 4:12] = 255
    p = tmp_path / f"x.{ext}"
    Image.fromarray(arr).save(p, format=fmt)
    x = read_image(p, channels=1)
    assert x.shape == (16, 16, 1) and x.dtype == np.float32
    tol = 0.1 if fmt == "JPEG" else 1e-6
    assert abs(x[8, 8, 0] - 1.0) < tol and abs(x[0, 0, 0]) < tol


def test_gif_first_frame(tmp_path):
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (255, 0)]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    assert read_image(p, channels=1).mean() > 0.99


def test_resize_channels_and_range(tmp_path):
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[..., 0] = 255
    p = tmp_path / "red.png"
    Image.fromarray(rgb).save(p)
    x = read_image(p, size=(5, 10), channels=3)
    assert x.shape == (5, 10, 3) and np.allclose(x[..., 0], 1) and np.allclose(x[..., 1:], 0)
    g = read_image(p, channels=1)
    assert np.allclose(g, 0.299, atol=0.01)  # ITU-R 601 luma of pure red
    r = read_image(p, channels=3, value_range=(-1, 1))
    assert np.allclose(r[..., 0], 1) and np.allclose(r[..., 1], -1)


def test_bad_files(tmp_path):
    with pytest.raises(UserError, match="not found"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "t.png").write_text("hello")
    with pytest.raises(UserError, match="not a readable image"):
        read_image(tmp_path / "t.png")
    good = tmp_path / "g.png"
    Image.fromarray(np.zeros((64, 64), np.uint8) + 7).save(good)
    (tmp_path / "trunc.png").write_bytes(good.read_bytes()[:60])
    with pytest.raises(UserError):
        read_image(tmp_path / "trunc.png")
    with pytest.raises(UserError, match="folder"):
        read_image(tmp_path)

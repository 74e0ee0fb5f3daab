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


def _png16(arr, color_type):
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour): `arr` uint16 [H, W(, C)]."""
    import struct
    import zlib

    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_16bit_grey_png_scaled_by_65535_not_clipped(tmp_path):
    """Pillow opens a 16-bit greyscale PNG as 'I;16'; converting it to 8 bits clips every value
    above 255 to white. Read at full scale 65535, the values are the file's own."""
    values = np.array([[0, 255, 256, 1000], [30000, 32768, 65000, 65535]], np.uint16)
    p = tmp_path / "g16.png"
    Image.fromarray(values).save(p)  # Pillow writes uint16 as a 16-bit greyscale PNG
    assert Image.open(p).mode.startswith("I")
    x = read_image(p, channels=1)
    assert x.shape == (2, 4, 1)
    np.testing.assert_allclose(x[..., 0], values / 65535.0, atol=1e-6)
    assert x[0, 2, 0] < 0.01 and abs(x[1, 0, 0] - 0.4578) < 1e-3      # 256 and 30000, not 1.0 both
    rgb = read_image(p, channels=3, value_range=(-1, 1))
    np.testing.assert_allclose(rgb, np.repeat(values[..., None] / 65535.0 * 2 - 1, 3, -1), atol=1e-6)
    # resized bilinearly at full precision: a uniform 16-bit image stays at its value
    flat = tmp_path / "flat16.png"
    Image.fromarray(np.full((20, 30), 12345, np.uint16)).save(flat)
    np.testing.assert_allclose(read_image(flat, size=(8, 8), channels=1), 12345 / 65535.0, atol=1e-5)
    # with no channel count asked, a 16-bit grey image stays grey
    assert read_image(p).shape == (2, 4, 1)


def test_16bit_colour_png_keeps_its_scale(tmp_path):
    """16-bit RGB (and RGBA) PNGs: Pillow keeps each channel's high byte, i.e. scales by 65535
    to within 1/255."""
    rgb = np.zeros((4, 5, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 65535, 32768, 300
    p = tmp_path / "c16.png"
    p.write_bytes(_png16(rgb, 2))
    x = read_image(p, channels=3)
    np.testing.assert_allclose(x[0, 0], [1.0, 32768 / 65535, 300 / 65535], atol=1 / 255)
    rgba = np.concatenate([rgb, np.full((4, 5, 1), 65535, np.uint16)], -1)
    q = tmp_path / "c16a.png"
    q.write_bytes(_png16(rgba, 6))
    np.testing.assert_allclose(read_image(q, channels=3)[0, 0], [1.0, 32768 / 65535, 300 / 65535], atol=1 / 255)


def _bomb_png(path, side):
    """A small file whose header claims side x side pixels (Pillow checks the size on open)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [20000, 10000])  # over twice Pillow's limit (its error), over it (its warning)
def test_decompression_bomb_refused_with_one_line(tmp_path, side):
    import warnings

    from PIL import Image

    p = _bomb_png(tmp_path / "bomb.png", side)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no Pillow warning escapes either
        with pytest.raises(UserError) as e:
            read_image(p, channels=1)
    msg = str(e.value)
    assert "\n" not in msg and "decompression bomb" in msg and "downscale" in msg
    assert f"{side * side:,} pixels" in msg and f"{Image.MAX_IMAGE_PIXELS:,}-pixel limit" in msg

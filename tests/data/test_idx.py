import gzip

import numpy as np
import pytest

from tfinterp.data import read_idx, write_idx
from tfinterp.errors import UserError


def test_roundtrip_plain_and_gzip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", a)
    write_idx(tmp_path / "a.gz", a)
    assert np.array_equal(read_idx(tmp_path / "a"), a)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a)
    # header by hand: 0,0,type 8 (ubyte), 3 dims, then big-endian 2,3,4
    assert (tmp_path / "a").read_bytes()[:16] == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])


def test_big_endian_int32(tmp_path):
    a = np.array([1, -2, 70000], dtype=np.int32)
    write_idx(tmp_path / "b", a)
    assert read_idx(tmp_path / "b").tolist() == [1, -2, 70000]


@pytest.mark.parametrize("damage", ["truncate", "magic", "extra", "header", "gzip"])
def test_corrupt_files_are_errors(tmp_path, damage):
    a = np.ones((4, 5, 5), np.uint8)
    p = tmp_path / "c"
    write_idx(p, a)
    raw = p.read_bytes()
    if damage == "truncate":
        p.write_bytes(raw[:-3])
    elif damage == "magic":
        p.write_bytes(b"\x01" + raw[1:])
    elif damage == "extra":
        p.write_bytes(raw + b"\x00")
    elif damage == "header":
        p.write_bytes(raw[:9])
    else:
        p = tmp_path / "c.gz"
        p.write_bytes(gzip.compress(raw)[:-8])
    with pytest.raises(UserError):
        read_idx(p)


def test_wrong_ndim(tmp_path):
    write_idx(tmp_path / "d", np.zeros((3,), np.uint8))
    with pytest.raises(UserError, match="dimensions"):
        read_idx(tmp_path / "d", expect_ndim=3)

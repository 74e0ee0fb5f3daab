"""IDX file reading (the MNIST / Fashion-MNIST format), with validation.

The format (LeCun et al., "Gradient-based learning applied to document recognition"):
two zero bytes, a type code, the number of dimensions, one big-endian uint32 per dimension,
then the data. A truncated, oversized or corrupt file raises `UserError` instead of
returning garbage.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from tfinterp.errors import UserError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path, expect_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a NumPy array, validating its header."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise UserError(f"IDX file not found: {path}")
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise UserError(f"cannot read IDX file {path}: {e}; re-download or reinstall the data")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number); re-download the data")
    ndim = raw[3]
    if ndim == 0 or (expect_ndim is not None and ndim != expect_ndim):
        raise UserError(f"{path}: IDX file has {ndim} dimensions, expected {expect_ndim}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{path}: IDX header is truncated; re-download the data")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise UserError(
            f"{path}: IDX data is {len(raw) - header} bytes but its header promises {expected} "
            f"(shape {shape}); the file is truncated or corrupt, re-download it")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray, compress: bool | None = None):
    """Write `array` as an IDX file (gzipped when the name ends in .gz). Used by tests and tools."""
    array = np.asarray(array)
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    code = codes[array.dtype]
    payload = bytes([0, 0, code, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    payload += array.astype(array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload)
    path.write_bytes(payload)

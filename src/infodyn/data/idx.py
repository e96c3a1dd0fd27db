"""The IDX file format of MNIST (LeCun et al.), read without any download.

An IDX file is a big-endian header — two zero bytes, a type code, the number of dimensions —
then one big-endian ``uint32`` size per dimension, then the data in C order. MNIST's files use
type ``0x08`` (unsigned byte): ``train-images-idx3-ubyte`` (magic ``0x00000803``: 60,000 × 28 ×
28) and ``train-labels-idx1-ubyte`` (magic ``0x00000801``: 60,000), with ``t10k-`` twins for
the test split; ``.gz`` copies are read as well.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_idx", "write_idx"]

_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("=").char: code for code, dtype in _DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as err:  # a truncated .gz fails inside gzip
        raise ValueError(f"{path}: cannot read the IDX file ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (or its ``.gz``) into a native-endian array.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the magic number is not an IDX one, or the file is shorter (or longer)
            than its header says; the message gives what was found and what was expected.

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d) / "labels-idx1-ubyte"
        ...     write_idx(p, np.array([3, 1, 4], dtype=np.uint8))
        ...     read_idx(p).tolist()
        [3, 1, 4]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no IDX file at {path}")
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an IDX header (4 bytes)")
    zeros, code, ndim = struct.unpack(">HBB", data[:4])
    if zeros != 0 or code not in _DTYPES or ndim == 0:
        raise ValueError(
            f"{path}: magic number 0x{int.from_bytes(data[:4], 'big'):08x} is not an IDX one "
            f"(expected 0x0000TTNN: type TT in {sorted(hex(c) for c in _DTYPES)}, NN ≥ 1 "
            f"dimensions, e.g. 0x00000803 for MNIST images); is this the right file?"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated header ({len(data)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: {len(data):,} bytes, but the header (shape {shape}, {dtype.name}) says "
            f"{expected:,}; the file is {'truncated' if len(data) < expected else 'too long'} — "
            f"download it again"
        )
    return (
        np.frombuffer(data, dtype=dtype, offset=header)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (uint8, int8, int16, int32, float32 or float64).

    Example:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = pathlib.Path(d) / "x-idx3-ubyte"
        ...     write_idx(p, np.zeros((2, 3, 3), dtype=np.uint8))
        ...     p.read_bytes()[:4].hex(), read_idx(p).shape
        ('00000803', (2, 3, 3))
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.char)
    if code is None:
        raise ValueError(
            f"IDX cannot hold dtype {array.dtype}; use uint8, int8, int16, int32, float32 or "
            f"float64"
        )
    header = struct.pack(">HBB", 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(header + array.astype(_DTYPES[code]).tobytes())

"""Minimal, dependency-light safetensors reader/writer (NumPy only).

Implements the format of https://github.com/huggingface/safetensors:

    [8 bytes: little-endian u64 N][N bytes: UTF-8 JSON header][tensor bytes]

The header maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin, end]}``
(offsets relative to the start of the byte buffer) and may hold ``"__metadata__"``, a
string-to-string map. Writing is deterministic: tensors are laid out in sorted name
order, the JSON is compact with sorted keys, and the header is padded with spaces so
that the data starts at an offset that is a multiple of 8.

Only what prpkit needs is written (``F32``); the reader also understands the other
common numeric dtypes so that foreign files can be inspected.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Mapping

import numpy as np

__all__ = ["save_file", "load_file", "load_bytes", "save_bytes"]

# safetensors dtype name -> little-endian NumPy dtype
_DTYPES = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
_MAX_HEADER = 100 * 1024 * 1024  # the reference implementation's limit


def save_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serializes float32 tensors and string metadata to safetensors bytes."""
    header: dict[str, object] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"safetensors metadata must map str to str, got {k!r}: {type(v).__name__}")
        header["__metadata__"] = dict(sorted(metadata.items()))
    blobs = []
    offset = 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"invalid tensor name {name!r}")
        arr = np.asarray(tensors[name])
        if arr.dtype != np.float32:
            raise TypeError(f"tensor {name!r}: only float32 is written, got {arr.dtype}")
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": [int(s) for s in arr.shape],
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":"), sort_keys=False, ensure_ascii=False).encode("utf-8")
    pad = (8 - (8 + len(text)) % 8) % 8
    text += b" " * pad
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def save_file(tensors: Mapping[str, np.ndarray], path: str, metadata: Mapping[str, str] | None = None) -> None:
    """Writes float32 `tensors` and string `metadata` to `path` (see `save_bytes`).

    The bytes go to a temporary file beside `path`, which then replaces it: a process that
    has the old file loaded (prpkit maps model files into memory) keeps its intact copy,
    and a failed write leaves no half-written file behind."""
    data = save_bytes(tensors, metadata)
    temporary = f"{os.fspath(path)}.tmp-{os.getpid()}"
    try:
        with open(temporary, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def load_bytes(buf: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parses safetensors bytes into (tensors, metadata); arrays are native-endian copies."""
    if len(buf) < 8:
        raise ValueError("safetensors: file shorter than its 8-byte header length")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise ValueError(f"safetensors: header length {n} exceeds the file size {len(buf)}")
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"safetensors: header is not valid UTF-8 JSON: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors: header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError("safetensors: __metadata__ must map strings to strings")
    data = memoryview(buf)[8 + n:]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        try:
            dtype = np.dtype(_DTYPES[info["dtype"]])
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(o) for o in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"safetensors: bad or unsupported header entry for {name!r}: {info!r}") from None
        count = int(np.prod(shape, dtype=np.int64))
        if not (0 <= begin <= end <= len(data)) or end - begin != count * dtype.itemsize:
            raise ValueError(f"safetensors: tensor {name!r} has inconsistent offsets {begin}..{end} for shape {shape}")
        arr = np.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
        tensors[name] = arr.astype(dtype.newbyteorder("="), copy=True)
    return tensors, dict(metadata)


def load_file(path: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Reads a safetensors file: (name → array, metadata)."""
    with open(path, "rb") as f:
        return load_bytes(f.read())

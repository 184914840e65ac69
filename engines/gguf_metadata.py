"""Read a few metadata values from a GGUF file's header, without llama.cpp.

The in-process engine must size its context before it creates one: past the
trained context a model produces garbage, and llama.cpp warns on every load.
Reading the header first means the model is opened once, at the right size.

Only the key/value section at the start of the file is read, and reading
stops as soon as the wanted keys are found (GGUF writers put the
architecture's hyperparameters before the large tokenizer arrays).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["GGUFHeaderError", "read_metadata", "trained_context_length"]

_MAGIC = b"GGUF"
# GGUF value types: id -> (struct format, size) for the fixed-size scalars.
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),  # uint8
    1: ("<b", 1),  # int8
    2: ("<H", 2),  # uint16
    3: ("<h", 2),  # int16
    4: ("<I", 4),  # uint32
    5: ("<i", 4),  # int32
    6: ("<f", 4),  # float32
    7: ("<?", 1),  # bool
    10: ("<Q", 8),  # uint64
    11: ("<q", 8),  # int64
    12: ("<d", 8),  # float64
}
_STRING = 8
_ARRAY = 9
_MAX_KEY_BYTES = 1 << 16
_MAX_STRING_BYTES = 1 << 26

Value = int | float | bool | str | None


class GGUFHeaderError(ValueError):
    """The file is not a GGUF file, or its header is damaged."""


def read_metadata(
    path: Path,
    wanted: Callable[[str], bool],
    done: Callable[[dict[str, Value]], bool] | None = None,
) -> dict[str, Value]:
    """Scalar and string values of the keys ``wanted`` accepts, in file order.

    Arrays are skipped (their value is None). Reading stops early once
    ``done`` says the values found so far are enough.
    """
    found: dict[str, Value] = {}
    try:
        with path.open("rb") as file:
            if file.read(4) != _MAGIC:
                raise GGUFHeaderError(f"{path} is not a GGUF file (bad magic)")
            version = _uint(file, "<I", 4)
            if version < 2:
                raise GGUFHeaderError(f"{path}: GGUF version {version} is too old")
            _unpack(file, "<Q", 8)  # tensor count
            count = _uint(file, "<Q", 8)
            for _ in range(count):
                key = _string(file, _MAX_KEY_BYTES)
                kind = _uint(file, "<I", 4)
                if wanted(key):
                    found[key] = _value(file, kind)
                    if done is not None and done(found):
                        break
                else:
                    _skip(file, kind)
    except (OSError, struct.error, UnicodeDecodeError) as error:
        raise GGUFHeaderError(f"{path}: unreadable GGUF header: {error}") from error
    return found


def trained_context_length(path: Path) -> int:
    """``{architecture}.context_length`` from the header; 0 when it is absent."""

    def wanted(key: str) -> bool:
        return key == "general.architecture" or key.endswith(".context_length")

    def done(found: dict[str, Value]) -> bool:
        return f"{found.get('general.architecture')}.context_length" in found

    values = read_metadata(path, wanted, done)
    architecture = values.get("general.architecture")
    length = values.get(f"{architecture}.context_length")
    return int(length) if isinstance(length, int) and length > 0 else 0


def _unpack(file: BinaryIO, layout: str, size: int) -> tuple[int | float | bool, ...]:
    data = file.read(size)
    if len(data) != size:
        raise GGUFHeaderError("GGUF header ends early")
    return struct.unpack(layout, data)


def _uint(file: BinaryIO, layout: str, size: int) -> int:
    (value,) = _unpack(file, layout, size)
    assert isinstance(value, int)
    return value


def _length(file: BinaryIO, most: int) -> int:
    length = _uint(file, "<Q", 8)
    if length > most:
        raise GGUFHeaderError(f"GGUF header holds an implausible length ({length})")
    return length


def _string(file: BinaryIO, most: int = _MAX_STRING_BYTES) -> str:
    length = _length(file, most)
    data = file.read(length)
    if len(data) != length:
        raise GGUFHeaderError("GGUF header ends early")
    return data.decode("utf-8")


def _value(file: BinaryIO, kind: int) -> Value:
    if kind == _STRING:
        return _string(file)
    if kind == _ARRAY:
        _skip(file, kind)
        return None
    if kind not in _SCALARS:
        raise GGUFHeaderError(f"unknown GGUF value type {kind}")
    layout, size = _SCALARS[kind]
    (value,) = _unpack(file, layout, size)
    return value


def _skip(file: BinaryIO, kind: int) -> None:
    if kind == _STRING:
        file.seek(_length(file, _MAX_STRING_BYTES), 1)
    elif kind == _ARRAY:
        item_kind = _uint(file, "<I", 4)
        count = _length(file, 1 << 40)
        if item_kind in _SCALARS:
            file.seek(count * _SCALARS[item_kind][1], 1)
        else:
            for _ in range(count):
                _skip(file, item_kind)
    elif kind in _SCALARS:
        file.seek(_SCALARS[kind][1], 1)
    else:
        raise GGUFHeaderError(f"unknown GGUF value type {kind}")

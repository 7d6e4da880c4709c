"""Request bodies decoded the way Go's ``encoding/json`` fills a struct.

The real gateway decodes into typed structs, which is lenient in some ways (``null`` is an empty
request, bytes after the first value are ignored, keys match case-insensitively, a ``null``
field is its zero value) and strict in others (a value of the wrong type fails the whole
decode). Matching that keeps a request that works here working against the real mesh.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeAlias

import orjson

_DECODER = json.JSONDecoder(parse_constant=lambda name: _reject(name))
_GO_SPACE = " \t\r\n"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# A field kind: "string", "bool", "number", "any", or a nested struct spec in a list
# (``[spec]`` = a JSON array of objects).
Kind: TypeAlias = "str | list[Spec]"
Spec: TypeAlias = Mapping[str, Kind]


class GoDecodeError(ValueError):
    """The body is not what the struct takes (syntax, truncation or a wrongly typed value)."""


def _reject(name: str) -> Any:
    raise GoDecodeError(f"invalid literal {name}")


def first_value(raw: bytes) -> Any:
    """The first JSON value of ``raw``; whatever follows it is ignored, as by ``Decoder``."""
    text = raw.decode("utf-8", "replace")
    start = 0
    while start < len(text) and text[start] in _GO_SPACE:
        start += 1
    if start == len(text):
        raise GoDecodeError("EOF")
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise GoDecodeError(str(exc)) from None
    return value


def _fold(name: str) -> str:
    # bytes.EqualFold-style matching, including the two non-ASCII folds Go special-cases
    return name.replace("\u212a", "k").replace("\u017f", "s").lower()


def _zero(kind: Kind) -> Any:
    if isinstance(kind, list):
        return []
    return {"string": "", "bool": False, "number": None, "any": None}[kind]


def _value(kind: Kind, value: Any) -> Any:
    if value is None:
        return _zero(kind)
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise GoDecodeError("cannot unmarshal into a slice")
        return [fill(kind[0], item) for item in value]
    if kind == "any":
        return value
    if kind == "string":
        if not isinstance(value, str):
            raise GoDecodeError("cannot unmarshal into a string")
        return _LONE_SURROGATE.sub("\ufffd", value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise GoDecodeError("cannot unmarshal into a bool")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GoDecodeError("cannot unmarshal into a number")
    return float(value)


def _typed(kind: Kind) -> bool:
    """No ``any`` field inside: every decoded value is checked and converted (numbers become
    floats), so which parser produced it cannot show."""
    if isinstance(kind, list):
        return all(_typed(k) for k in kind[0].values())
    return kind != "any"


# per spec (the routes' module-level constants): its case-folded names and whether it is typed
_COMPILED: dict[int, tuple[Spec, dict[str, str], bool]] = {}


def _compiled(spec: Spec) -> tuple[Spec, dict[str, str], bool]:
    entry = _COMPILED.get(id(spec))
    if entry is None or entry[0] is not spec:
        entry = (spec, {_fold(name): name for name in spec}, all(map(_typed, spec.values())))
        if len(_COMPILED) < 256:  # the entry keeps ``spec`` alive, so its id stays its own
            _COMPILED[id(spec)] = entry
    return entry


def fill(spec: Spec, obj: Any) -> dict[str, Any]:
    """The struct ``spec`` filled from a decoded JSON value (``null`` = all zero values)."""
    out = {name: _zero(kind) for name, kind in spec.items()}
    if obj is None:
        return out
    if not isinstance(obj, dict):
        raise GoDecodeError("cannot unmarshal into a struct")
    folded = _compiled(spec)[1]
    for key, value in obj.items():
        name = key if key in spec else folded.get(_fold(key))
        if name is not None:
            out[name] = _value(spec[name], value)
    return out


def decode(raw: bytes, spec: Spec) -> dict[str, Any]:
    """``json.NewDecoder(body).Decode(&req)`` for a struct of ``spec``."""
    if _compiled(spec)[2]:
        # The usual body is exactly one valid JSON value: orjson parses it several times faster
        # than ``json``. It accepts a subset of what the lenient path does (no trailing bytes,
        # invalid UTF-8, lone surrogates or overflowing numbers), and on that subset both give
        # the same values once typed; anything else takes the lenient path below.
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            return fill(spec, obj)
    return fill(spec, first_value(raw))


__all__ = ["GoDecodeError", "decode", "fill", "first_value"]

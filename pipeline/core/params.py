"""Typed, validated access to ``params.yaml``.

Each stage describes its section as a frozen dataclass; :func:`load_section` reads the section,
rejects unknown keys (naming the closest known one), wrong types and out-of-range values with one
clear message, and returns the dataclass. Nested sections are dataclass-typed fields. A field's
bounds are declared with its type, ``Annotated[int, Range(ge=1)]``; checks across fields are the
dataclass's ``validate()``.

The file is read as DVC reads it (ruamel.yaml's safe loader, YAML 1.2): ``1e-3`` is a float, ``yes``/``no``/
``on``/``off`` are strings, ``017`` is 17 and ``0o17`` is 15, so that what ``dvc params diff`` and ``dvc exp
run -S`` show is what the stages get.
"""

from __future__ import annotations

import dataclasses
import operator
import difflib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML, YAMLError

from pipeline.core.errors import PipelineError

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Range:
    """Bounds of a numeric params field, declared with its type: ``Annotated[float, Range(ge=0, lt=1)]``.

    ``ge`` / ``gt``: lower bound, inclusive / exclusive; ``le`` / ``lt``: upper bound; ``why`` is said
    after the bounds when a value is refused.
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    why: str = ""

    def check(self, value: float, where: str) -> None:
        bounds = [(symbol, bound, holds) for symbol, bound, holds in (
            (">=", self.ge, operator.ge), (">", self.gt, operator.gt),
            ("<=", self.le, operator.le), ("<", self.lt, operator.lt)) if bound is not None]
        if not all(holds(value, bound) for _, bound, holds in bounds):
            stated = " and ".join(f"{symbol} {bound}" for symbol, bound, _ in bounds)
            why = f" ({self.why})" if self.why else ""
            raise PipelineError(f"params {where}: must be {stated}{why}, got {value!r}")


AT_LEAST_ONE = Range(ge=1)
POSITIVE = Range(gt=0)
NON_NEGATIVE = Range(ge=0)


def read_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Parse a params file into a dict; a missing or malformed file is a :class:`PipelineError`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: params file not found; run the stage from the project root")
    try:
        data = YAML(typ="safe").load(path.read_text())  # as dvc.utils.serialize.parse_yaml
    except YAMLError as exc:
        raise PipelineError(f"{path}: not valid YAML ({exc}); fix the syntax") from exc
    if not isinstance(data, dict):
        raise PipelineError(f"{path}: expected a mapping of sections at the top level")
    return data


def load_section(cls: type[T], section: str, path: str | Path = "params.yaml") -> T:
    """Return section ``section`` of the params file at ``path`` as an instance of ``cls``."""
    data = read_params(path)
    if section not in data:
        raise PipelineError(f"{path}: section '{section}' is missing; add it (see the README)")
    return from_mapping(cls, data[section], f"{section}")


def from_mapping(cls: type[T], mapping: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``mapping``, checking keys and types; ``where`` names it in errors."""
    if not isinstance(mapping, dict):
        raise PipelineError(f"params {where}: expected a mapping, got {type(mapping).__name__}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(map(str, set(mapping) - set(fields)))
    if unknown:
        raise PipelineError(f"params {where}: {unknown_keys_message(unknown, list(fields))}")
    values = {}
    for name, field in fields.items():
        if name not in mapping:
            if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                raise PipelineError(f"params {where}.{name}: required key is missing")
            continue
        values[name] = _coerce(hints[name], mapping[name], f"{where}.{name}")
    instance = cls(**values)
    check = getattr(instance, "validate", None)
    if check is not None:
        try:
            check()
        except ValueError as exc:
            raise PipelineError(f"params {where}: {exc}") from exc
    return instance


def checked(instance: T, where: str) -> T:
    """``instance`` (a params dataclass built in code) if params.yaml could hold its values: the types,
    choices, bounds and ``validate()`` that :func:`from_mapping` checks, refused in the same one line."""
    return from_mapping(type(instance), dataclasses.asdict(instance), where)
def did_you_mean(name: Any, known: typing.Iterable[str]) -> str:
    """``" (did you mean 'lr'?)"`` for the known name closest to a misspelt ``name``; ``""`` when none is close."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_keys_message(unknown: list[str], known: list[str]) -> str:
    """The error for keys not in ``known``: each with its closest known key, or all known keys when one has none."""
    named = ", ".join(f"{key!r}{did_you_mean(key, known)}" for key in unknown)
    if all(did_you_mean(key, known) for key in unknown):
        return f"unknown key(s) {named}"
    return f"unknown key(s) {named}; known keys: {', '.join(known)}"


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        value = _coerce(base, value, where)
        for bound in extras:
            if isinstance(bound, Range):
                bound.check(value, where)
        return value
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except PipelineError as exc:
                errors.append(str(exc))
        raise PipelineError(errors[0] if len(errors) == 1 else f"params {where}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise PipelineError(
                f"params {where}: {value!r} is not one of {', '.join(map(repr, allowed))}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise PipelineError(f"params {where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)[:1] or (Any,)
        return [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, bool) or not isinstance(value, hint):
        raise PipelineError(
            f"params {where}: expected {hint.__name__}, got {type(value).__name__} {value!r}"
        )
    return value

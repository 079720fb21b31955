"""Registries of the model's kinds: policies, biases, remedies and events.

A kind is one class with a `kind` name and its parameters (`Params`, a pydantic
model), registered in one line (`@BIASES.register`). Scenario files name kinds;
the scenario's fields validate each entry against the registered kind's
parameters, and the JSON schema lists every kind registered, so a kind written
in a notebook and registered there is checked, documented and run like a
built-in one.

This module is the bottom of the package: it imports nothing of `sim`. The
built-in kinds are registered by their own modules (`builtins`, imported by
name the first time a registry is read), so the scenario layer, which reads the
registries, does not import the layers that define the kinds.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from pydantic_core import PydanticCustomError, core_schema


class Registry:
    """The kinds of one family, by name.

    Args:
        family: What the kinds are ("policy", "bias", ...), for messages.
        builtins: Module that registers the built-in kinds when imported.
        suffix: Appended to a class's name to name its parameters in the schema
            (`StaleData` → `StaleDataBias`); none for kinds that are their own
            parameters (events).
    """

    def __init__(self, family: str, builtins: str, suffix: str = "") -> None:
        self.family = family
        self.builtins = builtins
        self.suffix = suffix
        self._classes: dict[str, type] = {}
        self._specs: dict[str, type[BaseModel] | None] = {}
        self._builtin: tuple[str, ...] = ()
        self._loaded = False
        self._listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ registering

    def register(self, kind: str | type | None = None, cls: type | None = None) -> Any:
        """Register a class under its `kind` (or the name given).

        Used as a decorator (`@BIASES.register`) or called
        (`BIASES.register("recency_halo", RecencyHalo)`).

        Returns:
            The class.
        """
        if isinstance(kind, type):
            kind, cls = None, kind
        if cls is None:
            return lambda c: self.register(kind, c)
        name = kind or _kind_of(cls)
        if not isinstance(name, str) or not name:
            raise TypeError(f"a {self.family} class needs a `kind` name to be registered")
        if name in self._builtin and self._classes.get(name) is not cls:
            raise ValueError(f"{name!r} is a built-in {self.family} kind; register yours under another name")
        if kind is not None and _kind_of(cls) != kind and not issubclass(cls, BaseModel):
            cls.kind = kind  # registered under another name than its class says: the name wins
        self._classes[name] = cls
        self._specs[name] = self._make_spec(name, cls)
        if self._is_builtin(cls):
            self._builtin = (*dict.fromkeys((*self._builtin, name)),)
        elif self._loaded:  # a new kind: the schemas that list the kinds are rebuilt
            for listener in self._listeners:
                listener()
        return cls

    def _is_builtin(self, cls: type) -> bool:
        module = getattr(cls, "__module__", "")
        return module == self.builtins or module.startswith(self.builtins + ".")

    def unregister(self, kind: str) -> None:
        """Remove a kind registered at run time (a notebook's or a test's); built-in kinds stay."""
        if kind in self._builtin:
            raise ValueError(f"{kind!r} is a built-in {self.family} kind")
        self._classes.pop(kind, None)
        self._specs.pop(kind, None)
        for listener in self._listeners:
            listener()

    def on_register(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a kind is registered after the built-ins (the schema is rebuilt)."""
        self._listeners.append(listener)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            importlib.import_module(self.builtins)

    # ------------------------------------------------------------------ reading

    def __getitem__(self, kind: str) -> Any:
        self._load()
        return self._classes[kind]

    def get(self, kind: str) -> Any:
        """The class of `kind`, or None."""
        self._load()
        return self._classes.get(kind)

    def __contains__(self, kind: object) -> bool:
        self._load()
        return kind in self._classes

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(list(self._classes))

    def __len__(self) -> int:
        self._load()
        return len(self._classes)

    def items(self) -> list[tuple[str, Any]]:
        """(kind, class) pairs, built-ins first, in registration order."""
        self._load()
        return list(self._classes.items())

    def builtin(self) -> tuple[str, ...]:
        """The built-in kinds, in the order their module registers them."""
        self._load()
        return self._builtin

    def unknown(self, kind: object) -> PydanticCustomError:
        """The error for a kind nobody registered."""
        return PydanticCustomError(
            "unknown_kind", "expected one of {kinds}, found {found}",
            {"kinds": ", ".join(self), "found": repr(kind)})

    # ------------------------------------------------------------------ parameters

    def spec(self, kind: str) -> type[BaseModel]:
        """The pydantic model of a kind's entry in a scenario file: its `Params` and `kind`."""
        self._load()
        spec = self._specs[kind]
        if spec is None:
            raise KeyError(f"{self.family} kind {kind!r} has no parameters of its own")
        return spec

    def _make_spec(self, kind: str, cls: type) -> type[BaseModel] | None:
        if issubclass(cls, BaseModel):
            return cls  # the kind is its own parameters
        if not hasattr(cls, "Params"):
            return None  # a kind written in the scenario by name only (policies: `PolicySpec`)
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        name, module = f"{cls.__name__}{self.suffix}", getattr(cls, "__module__", __name__)
        spec = create_model(name, __base__=cls.Params, __doc__=doc, __module__=module,
                            kind=(Literal[kind], ...))  # type: ignore[valid-type]
        # Found by name in its class's module, as pickling (for worker processes) looks it up;
        # made when the class is registered, so a worker that imports the module finds it.
        setattr(sys.modules[module], name, spec)
        return spec

    def validate(self, value: Any) -> BaseModel:
        """A scenario entry (a mapping with a `kind`) checked against its kind's parameters."""
        if isinstance(value, BaseModel) and getattr(value, "kind", None) in self \
                and isinstance(value, self.spec(value.kind)):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if not isinstance(value, dict):
            raise PydanticCustomError("kind_mapping", "expected a mapping with a `kind`, found {found}",
                                      {"found": repr(value)})
        kind = value.get("kind")
        if not isinstance(kind, str) or kind not in self:  # reported at the entry's `kind`
            raise ValidationError.from_exception_data(self.family, [
                {"type": self.unknown(kind), "loc": ("kind",), "input": kind}])
        return self.spec(kind).model_validate(value)

    def field(self) -> _Field:
        """An annotation (`Annotated[Any, BIASES.field()]`) for one entry of this family in a pydantic model."""
        return _Field(self)


def _kind_of(cls: type) -> str | None:
    """The kind a class declares: its `kind` attribute, or a model's `kind: Literal["..."]` field."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        field = cls.model_fields.get("kind")
        args = get_args(field.annotation) if field is not None else ()
        return args[0] if len(args) == 1 and isinstance(args[0], str) else None
    return getattr(cls, "kind", None)


class _Field:
    """A pydantic field of one registered kind: validated by its `Params`, listed in the schema."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        reg = self.registry
        union = core_schema.union_schema([handler.generate_schema(reg.spec(k)) for k in reg])
        return core_schema.no_info_plain_validator_function(
            reg.validate, json_schema_input_schema=union,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: v.model_dump(mode="json") if isinstance(v, BaseModel) else v))


#: Settings shared by every parameter model: frozen, unknown keys are errors.
SPEC_CONFIG = ConfigDict(frozen=True, extra="forbid")

POLICIES = Registry("policy", "sim.policies")
BIASES = Registry("bias", "sim.biases", suffix="Bias")
REMEDIES = Registry("remedy", "sim.remedies", suffix="Remedy")
EVENTS = Registry("event", "sim.events")

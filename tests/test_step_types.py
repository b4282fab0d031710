"""Step types are the modules of one folder, each with a plan apart from its beats."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from scenes.steps import REGISTRY, kit, types


def type_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(types.__path__))


def test_every_module_of_the_folder_is_one_registered_step_type() -> None:
    assert type_modules() == sorted(REGISTRY)
    for name, step_type in REGISTRY.items():
        assert step_type.build.__module__ == f"scenes.steps.types.{name}"


def test_the_kit_registers_no_step_type() -> None:
    for info in pkgutil.iter_modules(kit.__path__):
        module = importlib.import_module(f"scenes.steps.kit.{info.name}")
        assert not any(
            getattr(value, "__module__", "") == module.__name__ and name == "build"
            for name, value in vars(module).items()
        ), info.name


def test_every_step_type_has_a_plan_taking_spec_trace_and_frame() -> None:
    for name in type_modules():
        module = importlib.import_module(f"scenes.steps.types.{name}")
        assert callable(getattr(module, "plan", None)), f"{name} has no plan()"
        parameters = list(inspect.signature(module.plan).parameters)
        assert parameters[:3] == ["spec", "trace", "frame"], (name, parameters)

"""Every public face is typed, and with the real classes (`make test` runs mypy over workbench/ and the app too).

mypy checks the bodies; these tests pin what mypy's settings cannot say per name: each function
a package exports through ``__all__`` (and each public method of an exported class) annotates
every parameter and its return, and a store, review, manifest, policy or decision travels as its
class, never as a bare ``Any`` (a decision or manifest *JSON* is a ``Mapping[str, Any]``).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator

import workbench

#: Parameters that name a domain object with a class of its own (Store, ReviewData, Manifest, ...).
DOMAIN_PARAMETERS = ("store", "review", "manifest", "policy", "decision")


def _faces() -> list[str]:
    return ["workbench", *(f"workbench.{m.name}" for m in pkgutil.iter_modules(workbench.__path__))]


def _public_functions() -> Iterator[tuple[str, Callable[..., object]]]:
    for face in _faces():
        module = importlib.import_module(face)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{face}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__.startswith("workbench."):
                # inherited too (Store's methods live in its mixins), but only the workbench's own
                for attr, member in inspect.getmembers(obj, inspect.isfunction):
                    if not attr.startswith("_") and member.__module__.startswith("workbench."):
                        yield f"{face}.{name}.{attr}", member


def test_the_faces_export_functions_to_check() -> None:
    names = dict(_public_functions())
    assert "workbench.policy.decide_review" in names and "workbench.store.Store.sign_off" in names


def test_every_public_function_annotates_its_parameters_and_return() -> None:
    untyped = []
    for label, fn in _public_functions():
        annotations = fn.__annotations__
        params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
        lacking = [p for p in params if p not in annotations] + (["return"] if "return" not in annotations else [])
        if lacking:
            untyped.append(f"{label}: {', '.join(lacking)}")
    assert untyped == [], "annotate (STYLE habit 3):\n" + "\n".join(untyped)


def test_domain_objects_cross_the_faces_as_their_classes() -> None:
    loose = []
    for label, fn in _public_functions():
        for name in DOMAIN_PARAMETERS:
            annotation = fn.__annotations__.get(name)
            if isinstance(annotation, str) and re.fullmatch(r"Any( \| None)?", annotation):
                loose.append(f"{label}({name}: {annotation})")
    assert loose == [], "use the class (Store, ReviewData, Manifest, Policy, Decision), not Any:\n" + "\n".join(loose)


def test_decide_review_returns_a_decision() -> None:
    from workbench.policy import decide_review

    assert decide_review.__annotations__["return"] == "Decision"

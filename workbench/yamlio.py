"""Reading YAML documents (manifest, policy, model card, templates, responses) with one kind of error.

Every YAML file a user hands the workbench fails the same way: the file, the line and column,
and what is wrong, raised as the caller's ``WorkbenchError`` subclass.

It is also the one place hostile YAML is refused. A few hundred bytes of nested aliases
(``&a [*b, *b, ...]``, "billion laughs") expand into billions of nodes the moment a loader
builds Python objects from them. So the reader works in two steps: it *composes* the node
graph (linear in the text: an alias is a second reference to the same node, not a copy),
measures what the graph would expand to, and only then *constructs* the objects. A document
larger than :data:`MAX_BYTES`, one that would expand past :data:`MAX_EXPANDED`, one nested
deeper than :data:`MAX_DEPTH` or one that refers to itself is refused before any expansion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from workbench.errors import WorkbenchError

#: Largest YAML document read, in bytes (manifests, policies and answer files are a few KB;
#: a YAML node graph costs ~200 bytes of memory per source byte, so this bounds memory too).
MAX_BYTES = 1024 * 1024
#: Largest expanded size: nodes plus scalar characters, counting every alias at full size.
MAX_EXPANDED = 2_000_000
#: Deepest nesting of mappings and sequences.
MAX_DEPTH = 64


def _expanded_size(root: yaml.Node, *, label: str, error: type[WorkbenchError]) -> int:
    """Nodes + scalar characters ``root`` expands to, memoised per node so aliases cost nothing here."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk: (node, depth, children_done).
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if key in sizes and not done:
            continue
        if isinstance(node, yaml.ScalarNode):
            sizes[key] = 1 + len(node.value)
            continue
        children: list[yaml.Node] = (
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        )
        if done:
            on_path.discard(key)
            total = 1
            for child in children:
                total += sizes[id(child)]
                if total > MAX_EXPANDED:
                    raise error(_too_big(label, node))
            sizes[key] = total
            continue
        if depth > MAX_DEPTH:
            raise error(f"{label}: nested more than {MAX_DEPTH} levels deep{_where(node)}; refused")
        on_path.add(key)
        stack.append((node, depth, True))
        for child in children:
            if id(child) in on_path:
                raise error(f"{label}: an alias refers to the node that contains it{_where(child)}; "
                            "recursive YAML is refused")
            if id(child) not in sizes:
                stack.append((child, depth + 1, False))
    return sizes[id(root)]


# libyaml when present: ten times faster, and no Python recursion while composing.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _check_depth(text: str, *, label: str, error: type[WorkbenchError]) -> None:
    """Stream the parse events and stop at :data:`MAX_DEPTH`: deep nesting costs a YAML scanner
    time quadratic in the depth (20 KB of ``[`` took 85 s in pure-Python PyYAML), so it is
    refused before a node is built. Syntax errors surface later, with their position."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    assert mark is not None  # the parser marks every event it streams
                    raise error(f"{label}: nested more than {MAX_DEPTH} levels deep (line {mark.line + 1}, "
                                f"column {mark.column + 1}); refused")
            elif isinstance(event, _CLOSE):
                depth -= 1
    except yaml.YAMLError:
        return  # reported with its position by the full parse


def _where(node: yaml.Node) -> str:
    mark = node.start_mark
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""


def _too_big(label: str, node: yaml.Node) -> str:
    return (f"{label}: YAML aliases expand past {MAX_EXPANDED:,} nodes and characters{_where(node)}; "
            "refused as an alias bomb (write the values out instead of nesting aliases)")


def parse_yaml(text: str | bytes, *, label: str, error: type[WorkbenchError]) -> Any:
    """Parse YAML text; a syntax error or a hostile document becomes ``error`` naming ``label``.

    Oversized documents (:data:`MAX_BYTES`), alias bombs (:data:`MAX_EXPANDED`), deep nesting
    (:data:`MAX_DEPTH`) and self-referring aliases are refused before anything is expanded.

    Examples
    --------
    >>> from workbench.errors import ManifestError
    >>> parse_yaml("a: [1, 2]", label="x.yaml", error=ManifestError)
    {'a': [1, 2]}
    >>> parse_yaml("a: [1", label="x.yaml", error=ManifestError)
    Traceback (most recent call last):
    ...
    workbench.errors.ManifestError: x.yaml: not valid YAML at line 2, column 1: did not find expected ',' or ']'
    >>> parse_yaml("a: &a [x]\\nb: &b [*a, *a]\\nc: *b", label="ok.yaml", error=ManifestError)
    {'a': ['x'], 'b': [['x'], ['x']], 'c': [['x'], ['x']]}
    """
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise error(_too_long(label, len(text)))
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{label}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    elif len(text) > MAX_BYTES:
        raise error(_too_long(label, len(text)))
    _check_depth(text, label=label, error=error)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, label=label, error=error)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{label}: not valid YAML{where}: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise error(f"{label}: nested too deeply to read; refused") from None
    except (ValueError, OverflowError) as exc:  # int beyond Python's digit limit, a date like 2024-13-45 ...
        raise error(f"{label}: a value cannot be read: {exc}") from None
    finally:
        loader.dispose()


def _too_long(label: str, size: int | None = None) -> str:
    got = f" ({size:,} bytes)" if size is not None else ""
    return f"{label}: YAML document larger than {MAX_BYTES:,} bytes{got}; refused"


def read_yaml(path: Path, *, label: str | None = None, error: type[WorkbenchError], what: str = "file") -> Any:
    """Read and parse a YAML file; a missing, unreadable, oversized or hostile file is ``error`` too.

    At most :data:`MAX_BYTES` + 1 bytes are read, so a huge file or a device (``/dev/zero``)
    costs nothing.
    """
    label = label or str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise error(f"{label}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{label}: is a folder, expected a {what}") from None
    except OSError as exc:
        raise error(f"{label}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise error(_too_long(label))
    return parse_yaml(data, label=label, error=error)


__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_EXPANDED", "parse_yaml", "read_yaml"]

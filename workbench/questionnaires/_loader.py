"""Load questionnaire templates from the packaged folder and from folders a policy names.

Errors name the file, the question id (or its position when it has none) and the problem,
all problems of a file at once, in one line, so the CLI and the app can show them as is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from workbench.yamlio import read_yaml
from workbench.errors import QuestionnaireError
from workbench.questionnaires._schema import QUESTION_TYPES, QuestionnaireTemplate

TEMPLATES_DIR = Path(__file__).parent / "templates"
_TEMPLATE_SUFFIXES = (".yaml", ".yml")


def builtin_templates_dir() -> Path:
    """The folder of the templates shipped with the workbench."""
    return TEMPLATES_DIR


def _path_text(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _question_label(raw: Any, si: int, qi: int) -> str:
    try:
        qid = raw["sections"][si]["questions"][qi].get("id")
    except (KeyError, IndexError, TypeError, AttributeError):
        qid = None
    return f"question '{qid}'" if isinstance(qid, str) else f"question #{qi + 1} of section #{si + 1} (no id)"


def _describe(error: Mapping[str, Any], raw: Any) -> str:
    loc = list(error["loc"])
    where = ""
    if len(loc) >= 4 and loc[0] == "sections" and loc[2] == "questions":
        si, qi = loc[1], loc[3]
        rest = loc[4:]
        if rest and rest[0] in QUESTION_TYPES:
            rest = rest[1:]  # pydantic puts the union tag in the path; readers do not need it
        where = f"{_question_label(raw, si, qi)} ({_path_text(loc[:4])})"
        field = _path_text(rest)
    else:
        field = _path_text(loc)
    kind = error["type"]
    if kind == "union_tag_invalid":
        problem = f"unknown question type {error['ctx']['tag']!r} (use one of {', '.join(QUESTION_TYPES)})"
    elif kind == "union_tag_not_found":
        problem = f"missing 'type' (use one of {', '.join(QUESTION_TYPES)})"
    elif kind == "extra_forbidden":
        problem = f"unknown key {field.rsplit('.', 1)[-1]!r} (remove it or fix its spelling)"
        field = ""
    elif kind == "missing":
        problem = "required field is missing"
    else:
        problem = str(error["msg"]).removeprefix("Value error, ")
    parts = [p for p in (where, f"field '{field}'" if field else "", problem) if p]
    return ": ".join(parts)


def parse_template(raw: Any, *, source: str = "<template>") -> QuestionnaireTemplate:
    """Validate an already-parsed template mapping; errors name ``source``.

    Examples
    --------
    >>> t = parse_template({"id": "t", "version": 1, "title": "T", "roles": ["reviewer"],
    ...     "sections": [{"id": "s", "title": "S", "questions": [
    ...         {"id": "q", "type": "yes_no_na", "text": "Fine?"}]}]})
    >>> t.question("q").score("yes")
    1.0
    """
    if not isinstance(raw, Mapping):
        raise QuestionnaireError(f"{source}: a template must be a mapping with id, version, title, roles, sections")
    try:
        return QuestionnaireTemplate.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A list whose items failed also reports "too short" for the list itself: noise.
        locs = [tuple(e["loc"]) for e in errors]
        errors = [e for e in errors if not (e["type"] == "too_short" and any(
            len(o) > len(e["loc"]) and o[: len(e["loc"])] == tuple(e["loc"]) for o in locs))]
        problems = "; ".join(_describe(e, raw) for e in errors)
        raise QuestionnaireError(f"{source}: invalid questionnaire template: {problems}") from None


def load_template(path: str | Path) -> QuestionnaireTemplate:
    """Load one template YAML file.

    Raises
    ------
    QuestionnaireError
        When the file is missing, is not YAML, or does not fit the schema; the message names
        the file, the question id and every problem.
    """
    path = Path(path)
    raw = read_yaml(path, error=QuestionnaireError, what="questionnaire template")
    return parse_template(raw, source=str(path))


def _template_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise QuestionnaireError(f"{folder}: questionnaire template folder not found; fix the folder named in the policy")
    return sorted(p for p in folder.iterdir() if p.suffix in _TEMPLATE_SUFFIXES and p.is_file())


def load_templates(
    extra_dirs: Iterable[str | Path] = (), *, include_builtin: bool = True
) -> dict[str, QuestionnaireTemplate]:
    """Every template of the packaged folder and of ``extra_dirs``, keyed by id, sorted by id.

    Two files with the same template id are an error naming both files: a team that
    wants its own variant of a shipped questionnaire gives it a new id.

    Examples
    --------
    >>> templates = load_templates()
    >>> "user_trust_contestability" in templates
    True
    """
    folders = ([TEMPLATES_DIR] if include_builtin else []) + [Path(d) for d in extra_dirs]
    found: dict[str, tuple[QuestionnaireTemplate, Path]] = {}
    for folder in folders:
        for path in _template_files(folder):
            template = load_template(path)
            if template.id in found:
                other = found[template.id][1]
                raise QuestionnaireError(
                    f"{path}: template id '{template.id}' is already used by {other}; give one of them a new id"
                )
            found[template.id] = (template, path)
    return {tid: found[tid][0] for tid in sorted(found)}


def get_template(template_id: str, *, extra_dirs: Iterable[str | Path] = ()) -> QuestionnaireTemplate:
    """The template with this id, or a QuestionnaireError listing the known ids."""
    templates = load_templates(extra_dirs)
    try:
        return templates[template_id]
    except KeyError:
        raise QuestionnaireError(
            f"unknown questionnaire '{template_id}'; known: {', '.join(templates) or 'none'} "
            "(`workbench questionnaire list`)"
        ) from None


__all__ = ["builtin_templates_dir", "get_template", "load_template", "load_templates", "parse_template"]

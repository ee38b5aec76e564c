"""json_schema: the output is JSON that matches the JSON Schema the project set for the span's name.

``config.json_schemas`` maps span-name glob patterns (``fnmatch``, case-sensitive) to schemas; an exact
name wins, else the first matching pattern in the mapping's order. Schemas are validated with jsonschema's
Draft 2020-12 validator unless they declare another ``$schema``, with format checking on (``"format":
"email"`` is enforced, as users expect). Validators are built once per distinct schema and cached.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from functools import lru_cache
from itertools import islice
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError

from evals.evaluators.base import Evaluator, skipped, text_of
from evals.evaluators.types import EvalConfig, EvalResult, EvalTarget

MAX_PARSE_CHARS = 1_000_000
MAX_ERRORS_LISTED = 5
MAX_ERRORS_COUNTED = 100


def schema_for(name: str, schemas: dict[str, dict] | None) -> tuple[str, Any] | None:
    """(pattern, schema) set for a span name, or None."""
    if not schemas or not isinstance(schemas, dict):
        return None
    if name in schemas:
        return name, schemas[name]
    for pattern, schema in schemas.items():
        if isinstance(pattern, str) and fnmatchcase(name, pattern):
            return pattern, schema
    return None


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    """A validator for a schema (given as canonical JSON, so equal schemas share one), or a SchemaError."""
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        return exc
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator_for(schema: Any) -> Any:
    if isinstance(schema, bool):
        schema_json = json.dumps(schema)
    elif isinstance(schema, dict):
        try:
            schema_json = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError) as exc:
            return SchemaError(f"the schema is not JSON: {exc}")
    else:
        return SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    return _validator(schema_json)


class JsonSchema(Evaluator):
    name = "json_schema"
    version = "1"
    kind = "rule"
    target = "span"
    description = "The output is JSON matching the JSON Schema set for the span's name."

    def applies(self, target: EvalTarget, config: EvalConfig | None = None) -> bool:
        if config is None or not config.json_schemas:
            return False
        return schema_for(target.name or "", config.json_schemas) is not None

    def evaluate(self, target: EvalTarget, config: EvalConfig) -> EvalResult:
        found = schema_for(target.name or "", config.json_schemas)
        if found is None:
            return skipped("No JSON Schema is set for this span name.")
        pattern, schema = found
        validator = validator_for(schema)
        if isinstance(validator, SchemaError):
            return EvalResult(
                status="error",
                error=f"invalid JSON Schema for {pattern!r}: {validator.message}"[:500],
                label="bad_schema",
                explanation=f"The JSON Schema set for {pattern!r} is itself invalid.",
                details={"pattern": pattern},
            )
        text, truncated = text_of(target.output_text, MAX_PARSE_CHARS)
        if truncated:
            return EvalResult(
                status="skipped",
                label="too_large",
                explanation=f"The output is over {MAX_PARSE_CHARS:,} characters; it was not parsed.",
                details={"pattern": pattern, "truncated": True, "scanned_chars": 0},
            )
        try:
            instance = json.loads(text)
        except (ValueError, RecursionError) as exc:
            return EvalResult(
                value=0.0,
                passed=False,
                label="invalid_json",
                explanation="The output is not JSON, so it cannot match the schema.",
                details={"pattern": pattern, "error": str(exc)[:200]},
            )
        try:
            errors = list(islice(validator.iter_errors(instance), MAX_ERRORS_COUNTED))
        except RecursionError:
            errors = None
        if errors is None:
            return EvalResult(status="error", error="the output is nested too deeply to validate", label="error")
        if not errors:
            return EvalResult(
                value=1.0,
                passed=True,
                label="valid",
                explanation=f"The output matches the schema set for {pattern!r}.",
                details={"pattern": pattern},
            )
        errors.sort(key=lambda e: (len(e.path), list(map(str, e.path))))
        listed = [
            {"path": e.json_path, "message": e.message[:200], "validator": str(e.validator)}
            for e in errors[:MAX_ERRORS_LISTED]
        ]
        count = len(errors)
        first = listed[0]
        return EvalResult(
            value=0.0,
            passed=False,
            label="invalid",
            explanation=f"The output breaks the schema for {pattern!r} at {first['path']}: {first['message']}.",
            details={
                "pattern": pattern,
                "errors": listed,
                "error_count": count,
                "error_count_capped": count >= MAX_ERRORS_COUNTED,
            },
        )

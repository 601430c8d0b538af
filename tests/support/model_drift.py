"""Compares pydantic models with OpenAPI schemas (field names, nesting, nullability, required),
and answers with their models' unknown fields: how the client is kept in step with the API."""

from __future__ import annotations

import types
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

Schema = dict[str, Any]


def resolve(document: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _strip_none(annotation: Any) -> tuple[Any, bool]:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), nullable
    return annotation, annotation is Any


def compare(document: Schema, schema: Schema, annotation: Any, where: str) -> list[str]:
    schema = resolve(document, schema)
    inner, _ = _strip_none(annotation)
    if "properties" in schema:
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return [f"{where}: schema is an object, model has {inner!r}"]
        return compare_model(document, schema, inner, where)
    if schema.get("type") == "array" and "items" in schema:
        if get_origin(inner) is not list:
            return [f"{where}: schema is an array, model has {inner!r}"]
        return compare(document, schema["items"], get_args(inner)[0], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        if get_origin(inner) is not dict:
            return [f"{where}: schema is a map, model has {inner!r}"]
        return compare(document, schema["additionalProperties"], get_args(inner)[1],
                       f"{where}{{}}")
    return []


def compare_model(document: Schema, schema: Schema, model: type[BaseModel],
                  where: str) -> list[str]:
    properties: dict[str, Schema] = schema["properties"]
    fields = {(f.alias or name): f for name, f in model.model_fields.items()}
    problems = [f"{where}: {model.__name__} lacks {sorted(set(properties) - set(fields))}"
                ] if set(properties) - set(fields) else []
    if set(fields) - set(properties):
        problems.append(f"{where}: {model.__name__} has {sorted(set(fields) - set(properties))}"
                        " the API does not document")
    required = set(schema.get("required", []))
    for name in set(properties) & set(fields):
        field, prop = fields[name], resolve(document, properties[name])
        _, nullable = _strip_none(field.annotation)
        if prop.get("nullable") and not nullable:
            problems.append(f"{where}.{name}: nullable in the API, not in the model")
        if name not in required and field.is_required():
            problems.append(f"{where}.{name}: optional in the API, required by the model")
        problems += compare(document, properties[name], field.annotation, f"{where}.{name}")
    return problems


def success_schemas(document: Schema, operation: Schema) -> list[Schema]:
    found = []
    for status, answer in operation["responses"].items():
        if status.startswith("2") and status != "202":
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                found += schema.get("oneOf", [schema])
    return [resolve(document, s) for s in found]


def route_problems(document: Schema, method: str, path: str,
                   models: tuple[type[BaseModel], ...]) -> list[str]:
    """A route's success answers against the client's model(s) of them: one model per
    answer shape, or one model merging every shape (its fields = the union)."""
    operation = document["paths"].get(path, {}).get(method.lower())
    if operation is None:
        return [f"{method} {path}: not served"]
    schemas, where = success_schemas(document, operation), f"{method} {path}"
    if len(models) == len(schemas):
        problems: list[str] = []
        for model, schema in zip(models, _matched(document, models, schemas), strict=True):
            problems += compare_model(document, schema, model, where)
        return problems
    if len(models) == 1:
        union: Schema = {"properties": {}, "required": []}
        for schema in schemas:
            union["properties"].update(schema["properties"])
        union["required"] = sorted(set.intersection(*(set(s.get("required", []))
                                                      for s in schemas)))
        return compare_model(document, union, models[0], where)
    return [f"{where}: {len(schemas)} answer shapes, {len(models)} models"]


def _name(document: Schema, schema: Schema) -> str:
    return next(n for n, s in document["components"]["schemas"].items() if s is schema
                or s == schema)


def _matched(document: Schema, models: tuple[type[BaseModel], ...],
             schemas: list[Schema]) -> list[Schema]:
    """Each model's schema: the component of the same name."""
    by_name = {_name(document, s): s for s in schemas}
    return [by_name.get(m.__name__, {"properties": {}}) for m in models]


def unknown_fields(value: Any, where: str = "answer") -> list[str]:
    """Fields an answer had that its model does not know (anywhere inside it)."""
    if isinstance(value, BaseModel):
        found = [f"{where}.{k}" for k in (value.model_extra or {})]
        for name in type(value).model_fields:
            found += unknown_fields(getattr(value, name), f"{where}.{name}")
        return found
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in unknown_fields(v, f"{where}[{i}]")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in unknown_fields(v, f"{where}.{k}")]
    return []

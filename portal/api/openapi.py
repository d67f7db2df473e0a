"""The OpenAPI 3.1 description of /api, generated from the resource registry (one source of truth)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify

from portal.api import bp
from portal.api.jsonapi import MEDIA_TYPE, PAGE_SIZE_MAX
from portal.api.registry import Attr, Resource
from portal.api.resources import REGISTRY
from portal.security.routes import Policy, allow

_TYPES = {
    "string": {"type": ["string", "null"]},
    "enum": {"type": ["string", "null"]},
    "integer": {"type": ["integer", "null"]},
    "float": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "datetime": {"type": ["string", "null"], "format": "date-time"},
    "object": {"type": ["object", "null"]},
    "array": {"type": ["array", "null"], "items": {"type": "string"}},
}
ERRORS = {"$ref": "#/components/schemas/errors"}


def _schema(attr: Attr) -> dict[str, Any]:
    if attr.name.startswith("_"):  # a trigger, never null: a flag, or a string (tag list, password, token)
        return {"type": "boolean"} if attr.kind == "boolean" else {"type": "string"}
    return dict(_TYPES[attr.kind])


def _attributes(resource: Resource, flag: str | None) -> dict[str, Any]:
    chosen = [
        a for a in resource.attrs if a.name != "id" and (getattr(a, flag) if flag else not a.write_only)
    ]
    return {"type": "object", "properties": {a.name: _schema(a) for a in chosen}}


def _relationships(resource: Resource, writable_only: bool) -> dict[str, Any]:
    identifier = {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"type": "string"}, "id": {"type": ["string", "null"]}},
    }
    one = {"oneOf": [{"type": "null"}, identifier]}
    many = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {"type": {"type": "string"}, "id": {"type": "string"}},
        },
    }
    rels = [r for r in resource.rels if r.writable or not writable_only]
    return {
        "type": "object",
        "properties": {
            r.name: {"type": "object", "properties": {"data": many if r.many else one}, "required": ["data"]}
            for r in rels
        },
    }


def _body(resource: Resource, mode: str) -> dict[str, Any]:
    flag = "creatable" if mode == "create" else "updatable"
    data = {
        "type": "object",
        "required": ["type"] + (["id"] if mode == "update" else []),
        "properties": {
            "type": {"const": resource.type},
            "attributes": _attributes(resource, flag),
            "relationships": _relationships(resource, True),
        },
    }
    if mode == "update":
        data["properties"]["id"] = {"type": "string"}
    return {
        "required": True,
        "content": {
            MEDIA_TYPE: {"schema": {"type": "object", "required": ["data"], "properties": {"data": data}}}
        },
    }


def _resource_schema(resource: Resource) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "type", "attributes"],
        "properties": {
            "id": {"type": "string"},
            "type": {"const": resource.type},
            "links": {"type": "object"},
            "attributes": _attributes(resource, None),
            "relationships": {"type": "object"},
            "meta": {"type": "object"},
        },
    }


def _response(schema: dict[str, Any] | None, description: str) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {MEDIA_TYPE: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    """Error responses of an operation; any request may also meet the rate limit (429, portal/api/limits.py)."""
    return {str(s): _response(ERRORS, "error") for s in (*statuses, 429)}


def _list_parameters(resource: Resource) -> list[dict[str, Any]]:
    parameters = [
        {"name": "page[number]", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {
            "name": "page[size]",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX},
        },
        {"name": "sort", "in": "query", "schema": {"type": "string"}},
        {"name": "include", "in": "query", "schema": {"type": "string"}},
        {"name": f"fields[{resource.type}]", "in": "query", "schema": {"type": "string"}},
    ]
    for attr in resource.attrs:
        if attr.filterable and attr.kind != "object":
            parameters.append(
                {"name": f"filter[q][{attr.name}_eq]", "in": "query", "schema": {"type": "string"}}
            )
    return parameters


def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {
        "errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["title", "code", "status"],
                        "properties": {
                            "title": {"type": "string"},
                            "detail": {"type": "string"},
                            "code": {"type": "string"},
                            "status": {"type": "string"},
                            "source": {"type": "object"},
                            "meta": {"type": "object"},
                        },
                    },
                }
            },
        }
    }
    for resource in REGISTRY.values():
        schemas[resource.type] = _resource_schema(resource)
        one = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {"$ref": f"#/components/schemas/{resource.type}"},
                "included": {"type": "array"},
            },
        }
        many = {
            "type": "object",
            "required": ["data", "meta", "links"],
            "properties": {
                "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{resource.type}"}},
                "included": {"type": "array"},
                "meta": {"type": "object"},
                "links": {"type": "object"},
            },
        }
        id_parameter = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
        collection: dict[str, Any] = {
            "get": {
                "operationId": f"list_{resource.type}",
                "tags": [resource.type],
                "parameters": _list_parameters(resource),
                "responses": {"200": _response(many, "list"), **_errors(400, 401, 406)},
            }
        }
        member: dict[str, Any] = {
            "parameters": id_parameter,
            "get": {
                "operationId": f"retrieve_{resource.type}",
                "tags": [resource.type],
                "responses": {"200": _response(one, "resource"), **_errors(400, 401, 404, 406)},
            },
        }
        if resource.create:
            collection["post"] = {
                "operationId": f"create_{resource.type}",
                "tags": [resource.type],
                "requestBody": _body(resource, "create"),
                "responses": {"201": _response(one, "created"), **_errors(400, 401, 404, 406, 415, 422)},
            }
        if resource.update:
            member["patch"] = {
                "operationId": f"update_{resource.type}",
                "tags": [resource.type],
                "requestBody": _body(resource, "update"),
                "responses": {"200": _response(one, "updated"), **_errors(400, 401, 404, 406, 415, 422, 423)},
            }
        if resource.delete:
            member["delete"] = {
                "operationId": f"delete_{resource.type}",
                "tags": [resource.type],
                "responses": {"204": _response(None, "deleted"), **_errors(401, 404, 406, 423)},
            }
        paths[f"/api/{resource.type}"] = collection
        paths[f"/api/{resource.type}/{{id}}"] = member
        for rel in resource.rels:
            target = REGISTRY[rel.type]
            schema = (
                {"type": "object", "properties": {"data": {"type": "array"}}}
                if rel.many
                else {
                    "type": "object",
                    "properties": {
                        "data": {"oneOf": [{"type": "null"}, {"$ref": f"#/components/schemas/{target.type}"}]}
                    },
                }
            )
            paths[f"/api/{resource.type}/{{id}}/{rel.name}"] = {
                "parameters": id_parameter,
                "get": {
                    "operationId": f"{resource.type}_{rel.name}",
                    "tags": [resource.type],
                    "responses": {"200": _response(schema, "related"), **_errors(400, 401, 404, 406)},
                },
            }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customer Portal API (Commerce Layer-compatible)", "version": "1.0.0"},
        "servers": [{"url": current_app.config["BASE_URL"]}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": schemas,
        },
        "paths": paths,
    }


@bp.get("/openapi.json")
@allow(Policy.PUBLIC)
def openapi_document():
    return jsonify(document())

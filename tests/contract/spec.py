"""Check HTTP requests and responses against Dotdigital's published OpenAPI specs.

The specs are the copies shipped in ``dotsync/dotdigital/openapi/`` (Dotdigital's own
files, unmodified). Both the client's contract tests and the emulator's tests use this
module, so that "what the client sends" and "what the emulator answers" are judged by the
same reading of the same documents.

Public API::

    from tests.contract.spec import validate_request, validate_response, find_operation

    op = validate_request("PATCH", "https://r1-api.dotdigital.com/contacts/v3/email/jo%40x.com"
                          "?merge-option=overwrite", {"dataFields": {"FIRSTNAME": "Jo"}})
    op.operation_id            # "importContact"
    validate_response("PATCH", url, 201, {...contact...})
    validate_request("POST", "/v2/email/triggered-campaign", NO_BODY)   # raises: body required

``url`` may be a full URL (scheme and host are ignored: the specs' server is a template of
``https://{region}-api.dotdigital.com`` with no base path, and the emulator serves the same
paths on loopback) or just ``path?query``. Both functions raise :class:`SpecViolation`
(an ``AssertionError``, so pytest prints it well) listing every problem found, or
:class:`OperationNotInSpec` when no spec file documents ``method`` + path. They return the
matched :class:`Operation` so callers can assert on ``operation_id``.

What is validated
    * the operation exists: method + path template, across all spec files; when several
      templates match (``/contacts/v3/import/{importId}`` and
      ``/contacts/v3/{identifier}/{value}``), the one with literal segments earliest wins,
      as servers route;
    * path parameters and query parameters against their schemas (values are coerced from
      text by the schema's type; ``pipeDelimited`` and ``form`` arrays are split); unknown
      query parameters and missing required ones are violations. Headers are not checked;
    * the JSON body against the request body schema, or the response schema for ``status``
      (looked up as ``"404"``, then ``"4XX"``, then ``"default"``; an undeclared status is a
      violation unless ``allow_undeclared_status=True``);
    * formats: ``email``, ``date``, ``date-time``, ``ipv4``/``ipv6``, ``uuid``, ``regex`` as
      jsonschema's ``FormatChecker`` knows them, plus ``int32``/``int64`` ranges.

Quirks of the published specs that this helper tolerates (each one deliberate):
    1. OpenAPI 3.0 files (contacts, insight data, marketing e-mail) use ``nullable: true``;
       it is translated to a JSON-Schema ``null`` type so both 3.0 and 3.1 files are checked
       with one Draft 2020-12 validator.
    2. The single-record Insight upserts (``PUT /insightData/v3/contacts/{identifier}/{value}/
       {collectionName}/{recordId}`` and ``PUT /insightData/v3/account/{collectionName}/
       {recordId}``) declare their ``application/json`` body as ``type: string`` (``format:
       json``), a generator artefact: the body is the record's JSON *object* (Dotdigital's
       docs and SDKs send the object). A top-level ``type: string`` body schema under a JSON
       media type therefore accepts a JSON object.
    3. ``POST /v2/email/triggered-campaign`` documents its 200 as ``text/plain`` with an
       object schema, while the API answers with no body. A non-JSON response media type is
       not checked, and an empty body (``None``) is accepted for it.
    4. Responses declared with no content (``401``, and ``201``/``204`` of the Insight upserts)
       are not checked for 4xx/5xx; for 2xx the body must be empty (``None``).
    5. A trailing ``/`` on a path is ignored when matching templates
       (``/v2/accounts/empty-recycle-bin/`` is written with one).
    6. Several schemas combine ``allOf`` branches where one branch says
       ``additionalProperties: false`` (``upsertInsightRecord``: ``{contactIdentity}`` closed
       + ``{key, json}``; ``returnedInsightRecord``; the contact's ``consentRecords`` items;
       ``CampaignReportModelExtended``). Read literally that rejects every valid instance
       (JSON Schema checks ``additionalProperties`` per branch, so ``key``/``json`` are
       "additional" to the first branch; Dotdigital's own examples fail). The evident intent
       is "no properties beyond those of all branches", so such a branch is opened and the
       ``allOf`` gets ``unevaluatedProperties: false`` instead (Draft 2020-12 semantics).
    7. ``GET /insightData/v3/import/{importId}`` lists its ``status`` as ``NotStarted``,
       ``Processing``, ``Complete``, ``Failed`` while the spec's own example (and Dotdigital's
       import docs) answer ``Finished``, and the docs poll on ``NotFinished``; both are added
       to that enum. Clients must treat ``Complete`` and ``Finished`` alike.
    8. The contacts service's ``contactIdentifier`` (bulk delete body and status) is a
       ``oneOf`` of ``{contactId}``, ``{email}``, ``{mobileNumber}`` and "one custom
       identifier" (any single string property), so ``{"email": …}`` matches two branches
       and fails ``oneOf``. It is read as ``anyOf``.
    9. ``GET /v2/contacts/suppressed-since/{date}`` and ``GET /v2/contacts/unsubscribed-since/
       {date}`` are NOT in any of the published files (only the address-book variant is);
       :class:`OperationNotInSpec` is raised for them. Callers that must cover them check
       :func:`has_operation` and test their shape separately.
   10. ``programs.yaml`` declares two GET operations on one path shape:
       ``/v2/programs/enrolments/{enrolmentId}`` and ``/v2/programs/enrolments/{status}``,
       the latter's parameter an enum of statuses. A segment that is one of an enum path
       parameter's values picks that operation; one that is not rules it out.

Deliberately *not* tolerated, because a correct client must follow them:
    ``GET /v2/campaigns`` declares ``skip`` with ``minimum: 1`` (send no ``skip`` for the
    first page); ``~modified`` must match ``gte::YYYY-MM-DDTHH:MM:SS(.fff)?Z``; the PATCH
    ``merge-option`` query values are kebab-case while the import body's ``mergeOption`` is
    camelCase.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

import dotsync.dotdigital

__all__ = [
    "NO_BODY",
    "SPEC_DIR",
    "Operation",
    "OperationNotInSpec",
    "SpecError",
    "SpecViolation",
    "Specs",
    "find_operation",
    "has_operation",
    "load_specs",
    "validate_request",
    "validate_response",
]

SPEC_DIR = Path(dotsync.dotdigital.__file__).parent / "openapi"
_METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


class _NoBody:
    """Marker for "the message has no body" (distinct from a JSON ``null`` body)."""

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Any = _NoBody()


class SpecError(AssertionError):
    """Base of this module's failures; an AssertionError so tests read naturally."""


class OperationNotInSpec(SpecError):
    """No spec file documents this method + path."""


class SpecViolation(SpecError):
    """The message does not match the spec; ``errors`` lists every problem found."""

    def __init__(self, where: str, errors: list[str]) -> None:
        self.where = where
        self.errors = errors
        super().__init__(f"{where}:\n  - " + "\n  - ".join(errors))


@dataclass(frozen=True)
class Operation:
    """One documented operation, as matched for a concrete request."""

    spec_file: str
    method: str
    path_template: str
    operation_id: str | None
    path_params: dict[str, str] = field(compare=False)
    definition: dict[str, Any] = field(repr=False, compare=False)
    uri: str = field(repr=False, compare=False)


@dataclass
class _Spec:
    name: str
    uri: str
    document: dict[str, Any]
    routes: list[tuple[str, re.Pattern[str], tuple[bool, ...]]]


@dataclass
class Specs:
    """All loaded spec files plus one reference registry spanning them."""

    specs: list[_Spec]
    registry: Registry

    def operations(self) -> Iterator[tuple[_Spec, str, str, dict[str, Any]]]:
        for spec in self.specs:
            for template, item in spec.document.get("paths", {}).items():
                for method in _METHODS:
                    if method in item:
                        yield spec, method.upper(), template, item[method]


def _translate_30(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` -> JSON Schema ``null`` type (quirk 1)."""
    if isinstance(node, dict):
        out = {k: _translate_30(v) for k, v in node.items()}
        if out.pop("nullable", False) is True:
            kind = out.get("type")
            if isinstance(kind, str):
                out["type"] = [kind, "null"]
            elif isinstance(kind, list) and "null" not in kind:
                out["type"] = [*kind, "null"]
            elif "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        return out
    if isinstance(node, list):
        return [_translate_30(v) for v in node]
    return node


def _local(document: dict[str, Any], ref: str) -> Any:
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return target


def _close_allofs(node: Any, document: dict[str, Any]) -> Any:
    """``allOf`` with a closed branch -> open branches + ``unevaluatedProperties`` (quirk 6)."""
    if isinstance(node, dict):
        out = {k: _close_allofs(v, document) for k, v in node.items()}
        branches = out.get("allOf")
        if isinstance(branches, list):
            new_branches = []
            closed = False
            for branch in branches:
                target = branch
                if isinstance(branch, dict) and str(branch.get("$ref", "")).startswith("#/"):
                    target = _local(document, branch["$ref"])
                if isinstance(target, dict) and target.get("additionalProperties") is False:
                    target = {k: v for k, v in target.items() if k != "additionalProperties"}
                    new_branches.append(_close_allofs(target, document))
                    closed = True
                else:
                    new_branches.append(branch)
            if closed:
                out["allOf"] = new_branches
                out["unevaluatedProperties"] = False
        return out
    if isinstance(node, list):
        return [_close_allofs(v, document) for v in node]
    return node


def _patch_known_quirks(document: dict[str, Any]) -> None:
    """Targeted fixes that a generic rule cannot express (quirks 7 and 8)."""
    schemas = document.get("components", {}).get("schemas", {})
    # Quirk 7: insight import status enum lacks the statuses the API answers with.
    try:
        response = document["paths"]["/insightData/v3/import/{importId}"]["get"]["responses"]
        schema = response["200"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = _local(document, schema["$ref"])
        enum = schema["properties"]["status"]["enum"]
    except (KeyError, TypeError):
        pass
    else:
        for extra in ("NotFinished", "Finished"):
            if extra not in enum:
                enum.append(extra)
    # Quirk 8: contactIdentifier's oneOf branches overlap; read it as anyOf.
    identifier = schemas.get("contactIdentifier")
    if isinstance(identifier, dict) and "oneOf" in identifier and "/contacts/v3" in document.get(
        "paths", {}
    ):
        identifier["anyOf"] = identifier.pop("oneOf")


def _absolute_refs(node: Any, uri: str) -> Any:
    """Make local ``#/...`` references absolute so a sub-schema resolves on its own."""
    if isinstance(node, dict):
        out = {k: _absolute_refs(v, uri) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = uri + ref
        return out
    if isinstance(node, list):
        return [_absolute_refs(v, uri) for v in node]
    return node


def _route(template: str) -> tuple[re.Pattern[str], tuple[bool, ...]]:
    segments = template.strip("/").split("/")
    parts: list[str] = []
    literal: list[bool] = []
    for seg in segments:
        m = re.fullmatch(r"\{([^}]+)\}", seg)
        if m:
            name = re.sub(r"\W", "_", m.group(1))
            parts.append(f"(?P<{name}>[^/]+)")
            literal.append(False)
        else:
            parts.append(re.escape(seg))
            literal.append(True)
    return re.compile("/" + "/".join(parts)), tuple(literal)


@functools.cache
def load_specs(directory: str | Path = SPEC_DIR) -> Specs:
    """Load every ``*.json``/``*.yaml`` spec in ``directory`` (cached per directory).

    Dotdigital serves its "yaml" files as JSON; real YAML is accepted too.
    """
    specs: list[_Spec] = []
    registry: Registry = Registry()
    for path in sorted(Path(directory).iterdir()):
        if path.suffix not in {".json", ".yaml", ".yml"}:
            continue
        text = path.read_text(encoding="utf-8")
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            import yaml

            document = yaml.safe_load(text)
        if str(document.get("openapi", "")).startswith("3.0"):
            document = _translate_30(document)
        document = _close_allofs(document, document)
        _patch_known_quirks(document)
        uri = f"urn:dotdigital-openapi:{path.name}"
        document = _absolute_refs(document, uri)
        registry = registry.with_resource(
            uri, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        routes = []
        for template in document.get("paths", {}):
            pattern, literal = _route(template)
            routes.append((template, pattern, literal))
        specs.append(_Spec(path.name, uri, document, routes))
    if not specs:
        raise SpecError(f"no OpenAPI files in {directory}")
    return Specs(specs, registry)


def _split_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")  # quirk 5
    return path, parts.query


def _candidates(method: str, path: str, specs: Specs) -> list[Operation]:
    found: list[tuple[tuple[bool, ...], Operation]] = []
    for spec in specs.specs:
        for template, pattern, literal in spec.routes:
            m = pattern.fullmatch(path)
            if not m:
                continue
            definition = spec.document["paths"][template].get(method.lower())
            if definition is None:
                continue
            names = re.findall(r"\{([^}]+)\}", template)
            params = {n: unquote(v) for n, v in zip(names, m.groups(), strict=True)}
            enum_fit = _enum_fit(definition, params)
            if enum_fit is None:
                continue
            op = Operation(spec.name, method.upper(), template, definition.get("operationId"),
                           params, definition, spec.uri)
            found.append(((not enum_fit, *(not lit for lit in literal)), op))
    # An enum path parameter that the segment matches first (quirk 10), then literal
    # segments beat parameters, earliest segment first (how servers route).
    found.sort(key=lambda item: item[0])
    return [op for _, op in found]


def _enum_fit(definition: dict[str, Any], params: dict[str, str]) -> bool | None:
    """True when a path parameter with an enum holds one of its values, None when one
    holds a value outside it (quirk 10), False when no path parameter has an enum."""
    fit = False
    for param in definition.get("parameters", []):
        enum = (param.get("schema") or {}).get("enum") if isinstance(param, dict) else None
        if param.get("in") != "path" or not enum or param.get("name") not in params:
            continue
        if params[param["name"]] not in enum:
            return None
        fit = True
    return fit


def find_operation(method: str, url: str, *, directory: str | Path = SPEC_DIR) -> Operation:
    """The documented operation for ``method`` + the path of ``url``."""
    path, _ = _split_url(url)
    found = _candidates(method, path, load_specs(directory))
    if not found:
        raise OperationNotInSpec(f"{method.upper()} {path} is not documented in any spec file")
    return found[0]


def has_operation(method: str, url: str, *, directory: str | Path = SPEC_DIR) -> bool:
    """Whether some spec file documents ``method`` + the path of ``url``."""
    try:
        find_operation(method, url, directory=directory)
    except OperationNotInSpec:
        return False
    return True


_FORMATS = FormatChecker()


@_FORMATS.checks("int32")
def _int32(value: object) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**31) <= value < 2**31


@_FORMATS.checks("int64")
def _int64(value: object) -> bool:
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**63


def _errors(schema: dict[str, Any], instance: Any, specs: Specs, label: str) -> list[str]:
    validator = Draft202012Validator(schema, registry=specs.registry, format_checker=_FORMATS)
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{label}{'/' + where if where else ''}: {err.message}")
    return out


def _resolve(node: dict[str, Any], specs: Specs) -> dict[str, Any]:
    """Follow a ``$ref`` on a parameter/response/request-body object (not schemas)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        node = specs.registry.resolver().lookup(node["$ref"]).contents
        seen += 1
    return node


def _coerce(raw: list[str], schema: dict[str, Any], style: str, explode: bool) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "array":
        if explode and style == "form":
            values = raw
        else:
            sep = {"pipeDelimited": "|", "spaceDelimited": " "}.get(style, ",")
            values = [v for item in raw for v in item.split(sep)]
        item_schema = schema.get("items", {})
        return [_coerce([v], item_schema, "form", True) for v in values]
    if len(raw) > 1:
        return raw  # a scalar parameter given twice: fails the scalar schema, as it should
    value = raw[0]
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return int(value)
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return value
    if kind == "boolean" and value in {"true", "false"}:
        return value == "true"
    return value


def _check_parameters(op: Operation, query: str, specs: Specs) -> list[str]:
    problems: list[str] = []
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    path_item = specs.registry.resolver().lookup(
        op.uri + "#/paths/" + op.path_template.replace("~", "~0").replace("/", "~1")
    ).contents
    for param in [*path_item.get("parameters", []), *op.definition.get("parameters", [])]:
        param = _resolve(param, specs)
        declared[(param["in"], param["name"])] = param

    for name, value in op.path_params.items():
        param = declared.get(("path", name))
        if param is None:
            problems.append(f"path parameter {name!r} is not declared")
            continue
        schema = param.get("schema", {})
        problems += _errors(schema, _coerce([value], schema, "simple", False), specs,
                            f"path parameter {name!r}")

    given: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        given.setdefault(key, []).append(value)
    for key, values in given.items():
        param = declared.get(("query", key))
        if param is None:
            problems.append(f"query parameter {key!r} is not declared for this operation")
            continue
        schema = param.get("schema", {})
        style = param.get("style", "form")
        explode = param.get("explode", style == "form")
        problems += _errors(schema, _coerce(values, schema, style, explode), specs,
                            f"query parameter {key!r}")
    for (where, name), param in declared.items():
        if where == "query" and param.get("required") and name not in given:
            problems.append(f"required query parameter {name!r} is missing")
    return problems


def _json_media(content: dict[str, Any]) -> dict[str, Any] | None:
    for media, definition in content.items():
        if media.split(";")[0].strip().endswith("json"):
            return definition
    return None


def _check_body(schema: dict[str, Any] | None, body: Any, specs: Specs, label: str) -> list[str]:
    if schema is None:
        return []
    if schema.get("type") == "string" and isinstance(body, dict):  # quirk 2
        return []
    return _errors(schema, body, specs, label)


def validate_request(
    method: str,
    url: str,
    json_body: Any = NO_BODY,
    *,
    directory: str | Path = SPEC_DIR,
) -> Operation:
    """Check a request (method, URL with query, decoded JSON body) against the spec.

    Pass :data:`NO_BODY` (the default) for a request without a body; ``None`` means a
    JSON ``null`` body.
    """
    specs = load_specs(directory)
    op = find_operation(method, url, directory=directory)
    _, query = _split_url(url)
    problems = _check_parameters(op, query, specs)
    request_body = op.definition.get("requestBody")
    if request_body is not None:
        request_body = _resolve(request_body, specs)
    if json_body is NO_BODY:
        if request_body is not None and request_body.get("required"):
            problems.append("a request body is required")
    elif request_body is None:
        problems.append("the operation takes no request body")
    else:
        media = _json_media(request_body.get("content", {}))
        if media is None:
            problems.append("the operation does not take a JSON body")
        else:
            problems += _check_body(media.get("schema"), json_body, specs, "body")
    if problems:
        raise SpecViolation(f"request {op.method} {op.path_template} ({op.spec_file})", problems)
    return op


def validate_response(
    method: str,
    url: str,
    status: int,
    json_body: Any = NO_BODY,
    *,
    allow_undeclared_status: bool = False,
    directory: str | Path = SPEC_DIR,
) -> Operation:
    """Check a response (status and decoded JSON body) for ``method`` + ``url``.

    Pass :data:`NO_BODY` (the default) or ``None`` for an empty body.
    """
    specs = load_specs(directory)
    op = find_operation(method, url, directory=directory)
    responses = op.definition.get("responses", {})
    declared = (
        responses.get(str(status))
        or responses.get(f"{status // 100}XX")
        or responses.get(f"{status // 100}xx")
        or responses.get("default")
    )
    where = f"response {status} to {op.method} {op.path_template} ({op.spec_file})"
    if declared is None:
        if allow_undeclared_status:
            return op
        raise SpecViolation(where, [f"status {status} is not declared (declared: "
                                    f"{', '.join(sorted(responses))})"])
    declared = _resolve(declared, specs)
    empty = json_body is NO_BODY or json_body is None
    content = declared.get("content") or {}
    problems: list[str] = []
    if not content:
        if 200 <= status < 300 and not empty:  # quirk 4
            problems.append("the spec declares no body for this response")
    else:
        media = _json_media(content)
        if media is None:
            pass  # quirk 3: non-JSON media type, e.g. the triggered-campaign 200
        elif empty:
            problems.append("the spec declares a JSON body for this response, none given")
        else:
            problems += _check_body(media.get("schema"), json_body, specs, "body")
    if problems:
        raise SpecViolation(where, problems)
    return op


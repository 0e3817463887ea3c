"""test_openapi.py: docs/openapi.yaml says what the router table and the running stack do.

The document is only worth having while it is true, so three sources are held against it: the
one route table (fcgi/handlers/routes.c), the error table (fcgi/lib/error.c) and the live stack.
Every JSON route and every operations route must be documented with exactly its methods (HEAD,
implied by GET, is not listed), nothing may be documented that the router does not route, and
what the stack answers must be among the documented responses, with the documented media type,
headers and body schema.
"""

import os
import re

import pytest
import yaml

from api_lib import Client, verified_login
from stack import ADMIN_PASSWORD, ADMIN_USERNAME, REPO

SPEC_PATH = os.path.join(REPO, "docs", "openapi.yaml")
ROUTES_C = os.path.join(REPO, "fcgi", "handlers", "routes.c")
ERROR_C = os.path.join(REPO, "fcgi", "lib", "error.c")

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
HTTP_BITS = {"HTTP_GET": "get", "HTTP_HEAD": "head", "HTTP_POST": "post", "HTTP_PUT": "put",
             "HTTP_PATCH": "patch", "HTTP_DELETE": "delete", "HTTP_OPTIONS": "options"}
# API.md §6: the operations routes, documented although they are not JSON API routes.
OPERATIONS = ("/healthz", "/readyz", "/auth/check")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# --- the router table ------------------------------------------------------------------------

def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def expand_flags(expr, defines, seen=()):
    """The set of ROUTE_* names an expression such as `FORM | ROUTE_SESSION` stands for."""
    if re.search(r"[^\w\s|()]", expr):
        raise ValueError("flag expression %r uses more than | and parentheses" % expr)
    flags = set()
    for name in re.findall(r"\w+", expr):
        if name == "0":
            continue
        if name.startswith("ROUTE_"):
            flags.add(name)
        elif name in defines and name not in seen:
            flags |= expand_flags(defines[name], defines, seen + (name,))
        else:
            raise ValueError("unknown flag %r in %r" % (name, expr))
    return flags


def parse_routes(path=ROUTES_C):
    """[(path, {methods}, handler, {flags})] of the routes[] table, in table order."""
    with open(path) as f:
        text = strip_c_comments(f.read())
    defines = {}
    for m in re.finditer(r"^#define\s+(\w+)\s+(.+?)\s*$", text, flags=re.M):
        defines[m.group(1)] = m.group(2)
    m = re.search(r"\broutes\[\]\s*=\s*\{(.*?)\n\};", text, flags=re.S)
    if m is None:
        raise ValueError("no routes[] table in %s" % path)
    routes = []
    for e in re.finditer(r"\{\s*([\w\s|]+?)\s*,\s*\"([^\"]+)\"\s*,\s*(\w+)\s*,\s*([^{}]*?)\s*\}",
                         m.group(1)):
        methods = set()
        for bit in re.findall(r"\w+", e.group(1)):
            if bit not in HTTP_BITS:
                raise ValueError("unknown method %r in route %s" % (bit, e.group(2)))
            methods.add(HTTP_BITS[bit])
        routes.append((e.group(2), methods, e.group(3), expand_flags(e.group(4), defines)))
    return routes


def router_methods(routes):
    """{path: {methods}} over the whole table (one path may span several entries)."""
    table = {}
    for path, methods, _, _ in routes:
        table.setdefault(path, set()).update(methods)
    return table


def must_document(routes):
    """{path: {methods}} of the JSON routes and the operations routes (ROUTE_BARE)."""
    table = {}
    for path, methods, _, flags in routes:
        if flags & {"ROUTE_JSON", "ROUTE_BARE"}:
            table.setdefault(path, set()).update(methods)
    return table


# --- the document ----------------------------------------------------------------------------

def load_spec():
    with open(SPEC_PATH) as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def routes():
    return parse_routes()


def operations(spec):
    """[(path, method, operation object)] of every documented operation."""
    out = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                out.append((path, method, item[method]))
    return out


def documented_methods(spec):
    return {path: {m for m in METHODS if m in item} for path, item in spec["paths"].items()}


def resolve(spec, node):
    """Follows a local $ref ("#/components/...") to what it names."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), "only local references are used: %r" % ref
        assert ref not in seen, "reference loop at %r" % ref
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            assert isinstance(node, dict) and part in node, "dangling $ref %r" % ref
            node = node[part]
    return node


def all_refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from all_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from all_refs(v)


def schema_errors(spec, schema, value, where="$"):
    """What is wrong with VALUE against SCHEMA: the JSON Schema subset the document uses."""
    schema = resolve(spec, schema)
    errors = []
    for sub in schema.get("allOf", []):
        errors += schema_errors(spec, sub, value, where)
    if "const" in schema and value != schema["const"]:
        errors.append("%s: %r is not %r" % (where, value, schema["const"]))
    if "enum" in schema and value not in schema["enum"]:
        errors.append("%s: %r is not one of %r" % (where, value, schema["enum"]))
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "boolean": lambda v: isinstance(v, bool),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[t](value) for t in types):
            errors.append("%s: %r is not of type %s" % (where, value, "/".join(types)))
            return errors
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                errors.append("%s: member %r is missing" % (where, key))
        props = schema.get("properties", {})
        for key, v in value.items():
            if key in props:
                errors += schema_errors(spec, props[key], v, "%s.%s" % (where, key))
            elif schema.get("additionalProperties") is False:
                errors.append("%s: member %r is not documented" % (where, key))
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            errors += schema_errors(spec, schema["items"], v, "%s[%d]" % (where, i))
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append("%s: %r does not match %r" % (where, value, schema["pattern"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: longer than %d" % (where, schema["maxLength"]))
        if schema.get("format") == "date-time" and not RFC3339.match(value):
            errors.append("%s: %r is not an RFC 3339 date-time" % (where, value))
    if isinstance(value, int) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append("%s: %d is below %d" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errors.append("%s: %d is above %d" % (where, value, schema["maximum"]))
    return errors


def media_type(r):
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


def check_answer(spec, path, method, r):
    """R is one of the responses documented for METHOD PATH: status, headers, media type, body.

    Returns the documented response object.
    """
    op = spec["paths"][path][method]
    status = str(r.status_code)
    assert status in op["responses"], "%s %s answered %d, documented are %s: %r" % (
        method.upper(), path, r.status_code, sorted(op["responses"]), r.text[:300])
    doc = resolve(spec, op["responses"][status])
    for name, header in (doc.get("headers") or {}).items():
        if resolve(spec, header).get("required"):
            assert name in r.headers, "%s %s %s lacks the documented header %s" % (
                method.upper(), path, status, name)
    content = doc.get("content")
    if not content:
        assert r.content == b"", "%s %s %s is documented without a body: %r" % (
            method.upper(), path, status, r.text[:200])
        return doc
    mt = media_type(r)
    assert mt in content, "%s %s %s is %r, documented %s" % (
        method.upper(), path, status, mt, sorted(content))
    schema = content[mt].get("schema")
    if schema is not None and mt.endswith("json"):
        errors = schema_errors(spec, schema, r.json())
        assert not errors, "%s %s %s body does not match the document: %s" % (
            method.upper(), path, status, "; ".join(errors))
    return doc


def concrete(path):
    """A request path for a documented template: each {param} becomes 1."""
    return re.sub(r"\{[^}/]+\}", "1", path)


def needs_bearer(op):
    """The operation cannot be used without the bearer scheme."""
    sec = op.get("security")
    return bool(sec) and all("bearerAuth" in s for s in sec)


# --- the document against the code -----------------------------------------------------------

def test_the_document_is_openapi_3_1_and_every_reference_resolves(spec):
    assert spec["openapi"] == "3.1.0"
    assert spec["paths"], "no paths"
    refs = set(all_refs(spec))
    assert refs, "the document uses no $ref at all"
    for ref in refs:
        resolve(spec, {"$ref": ref})


def test_the_route_table_parses_into_the_routes_it_holds(routes):
    table = router_methods(routes)
    # Known entries of the table, so a parser that silently finds nothing fails here.
    assert table.get("/healthz") == {"get"}, table.get("/healthz")
    assert table.get("/api/v1/me", set()) >= {"get", "patch", "delete"}, table.get("/api/v1/me")
    assert table.get("/login") == {"get", "post"}, table.get("/login")
    flags = {p: f for p, _, _, f in routes}
    assert "ROUTE_BEARER" in flags["/api/v1/me/sessions"], flags["/api/v1/me/sessions"]
    assert "ROUTE_JSON" not in flags["/login"], flags["/login"]


def test_every_json_and_operations_route_is_documented_with_exactly_its_methods(spec, routes):
    want = must_document(routes)
    for path in OPERATIONS:
        assert path in want, "%s is not an operations route of the table" % path
    have = documented_methods(spec)
    missing = sorted(p for p in want if p not in have)
    assert not missing, "routes missing from docs/openapi.yaml: %s" % missing
    wrong = {p: (sorted(have[p]), sorted(m)) for p, m in want.items() if have[p] != m}
    assert not wrong, "documented methods differ from the router's (doc, router): %s" % wrong


def test_every_documented_operation_is_routed_by_the_table(spec, routes):
    table = router_methods(routes)
    extra = [(m.upper(), p) for p, m, _ in operations(spec)
             if p not in table or m not in table[p]]
    assert not extra, "documented but not in fcgi/handlers/routes.c: %s" % extra
    for path, method, _ in operations(spec):
        assert method != "head", "HEAD comes with GET and is not listed: %s" % path


def test_path_parameters_are_declared_exactly_once_and_required(spec):
    for path, method, op in operations(spec):
        names = re.findall(r"\{([^}/]+)\}", path)
        params = [resolve(spec, p) for p in
                  spec["paths"][path].get("parameters", []) + op.get("parameters", [])]
        declared = [p["name"] for p in params if p.get("in") == "path"]
        assert sorted(declared) == sorted(names), "%s %s: path parameters %s, declared %s" % (
            method.upper(), path, names, declared)
        for p in params:
            if p.get("in") == "path":
                assert p.get("required") is True, "%s %s: {%s} must be required" % (
                    method.upper(), path, p["name"])


def test_bearer_routes_and_only_they_require_the_bearer_scheme(spec, routes):
    flags = {}
    for path, methods, _, f in routes:
        for m in methods:
            flags[(path, m)] = f
    for path, method, op in operations(spec):
        bearer = "ROUTE_BEARER" in flags[(path, method)]
        assert needs_bearer(op) == bearer, "%s %s: ROUTE_BEARER is %s, the document says %s" % (
            method.upper(), path, bearer, op.get("security"))
        if bearer:
            assert "401" in op["responses"], "%s %s needs a token but lists no 401" % (
                method.upper(), path)


def test_json_routes_with_a_body_document_400_413_and_415(spec, routes):
    json_routes = {(p, m) for p, ms, _, f in routes if "ROUTE_JSON" in f for m in ms}
    # ROUTE_OPTBODY: a POST that may come without a body (the passkey options, issue 13).
    optional = {(p, m) for p, ms, _, f in routes if "ROUTE_OPTBODY" in f for m in ms}
    for path, method, op in operations(spec):
        if (path, method) not in json_routes or "requestBody" not in op:
            continue
        body = resolve(spec, op["requestBody"])
        assert body.get("required") is ((path, method) not in optional), \
            "%s %s: the body is required unless the route says ROUTE_OPTBODY" % (method, path)
        assert list(body["content"]) == ["application/json"], (method, path, body["content"])
        for status in ("400", "413", "415"):
            assert status in op["responses"], "%s %s lists no %s" % (method.upper(), path, status)


def test_the_problem_codes_are_exactly_those_of_the_error_table(spec):
    with open(ERROR_C) as f:
        text = f.read()
    codes = set(re.findall(r"\[UM_\w+\]\s*=\s*\{\s*\d+\s*,\s*\"(\w+)\"", text))
    codes.discard("ok")
    assert len(codes) >= 10, "error.c table not understood: %s" % sorted(codes)
    documented = set(spec["components"]["schemas"]["ProblemCode"]["enum"])
    assert documented == codes, "only in the document: %s; only in error.c: %s" % (
        sorted(documented - codes), sorted(codes - documented))


def test_the_user_object_has_exactly_the_members_of_the_contract(spec):
    user = spec["components"]["schemas"]["User"]
    members = {"id", "username", "email", "email_verified", "display_name", "bio", "roles",
               "status", "mfa_enabled", "created_at", "updated_at", "last_login_at"}
    assert set(user["properties"]) == members
    assert set(user["required"]) == members
    assert user["additionalProperties"] is False
    assert user["properties"]["status"]["enum"] == ["active", "disabled"]
    for nullable in ("display_name", "bio", "last_login_at"):
        assert "null" in user["properties"][nullable]["type"], nullable
    session = spec["components"]["schemas"]["Session"]
    assert set(session["required"]) == {"id", "kind", "created_at", "last_seen_at", "ip",
                                        "user_agent", "current"}
    assert session["properties"]["kind"]["enum"] == ["browser", "api"]


# --- the document against the running stack --------------------------------------------------

def test_operations_needing_neither_credentials_nor_a_body_answer_as_documented(stack, spec):
    tried = []
    for path, method, op in operations(spec):
        if needs_bearer(op) or "requestBody" in op:
            continue
        # From 127.0.0.1, which nginx lets see /metrics (API.md §6).
        r = stack.request(method.upper(), concrete(path))
        check_answer(spec, path, method, r)
        tried.append((method, path, r.status_code))
    assert ("get", "/healthz", 200) in tried, tried
    assert ("get", "/readyz", 200) in tried, tried
    assert ("get", "/auth/check", 401) in tried, tried
    assert ("get", "/metrics", 200) in tried, tried


def test_operations_needing_a_token_answer_the_documented_401_without_one(stack, spec):
    c = Client(stack)
    n = 0
    for path, method, op in operations(spec):
        if not needs_bearer(op):
            continue
        r = c.request(method.upper(), concrete(path), headers={"Content-Type": "application/json"},
                      data=b"{}" if "requestBody" in op else None)
        assert r.status_code == 401, (method, path, r.status_code, r.text[:200])
        check_answer(spec, path, method, r)
        assert r.json()["code"] == "unauthorized", r.text
        n += 1
    assert n >= 5, "only %d bearer operations documented" % n


def test_bodies_of_another_media_type_get_the_documented_415(stack, spec):
    _, pair = verified_login(stack)
    c = Client(stack)
    # API.md §7 order: the role check (403) comes before the content type (415), so the admin
    # routes are tried with the bootstrap admin's token.
    r = c.post("/api/v1/auth/login", {"login": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    admin_token = r.json()["access_token"]
    n = 0
    for path, method, op in operations(spec):
        if "requestBody" not in op:
            continue
        token = None
        if needs_bearer(op):
            token = admin_token if path.startswith("/api/v1/admin/") else pair["access_token"]
        # A text/plain body: refused at the front door before any handler can change anything.
        r = c.request(method.upper(), concrete(path), token=token,
                      headers={"Content-Type": "text/plain"}, data=b"{}")
        assert r.status_code == 415, (method, path, r.status_code, r.text[:200])
        check_answer(spec, path, method, r)
        n += 1
    assert n >= 10, "only %d operations with a body documented" % n


def test_every_path_answers_405_with_an_allow_header_of_its_documented_methods(stack, spec):
    for path, methods in documented_methods(spec).items():
        other = next(m for m in ("put", "patch", "delete", "post") if m not in methods)
        # From 127.0.0.1 (nginx keeps /metrics for loopback's first address); never a POST to
        # a rate-limited route, since every such route documents POST.
        r = stack.request(other.upper(), concrete(path))
        assert r.status_code == 405, (other, path, r.status_code, r.text[:200])
        allow = {m.strip().lower() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        want = set(methods) | ({"head"} if "get" in methods else set())
        assert allow == want, "%s: Allow %r, documented %s" % (
            path, r.headers.get("Allow"), sorted(want))


def test_a_login_and_the_callers_own_resources_match_their_schemas(stack, spec):
    admin = Client(stack)
    r = admin.post("/api/v1/auth/login", {"login": ADMIN_USERNAME, "password": ADMIN_PASSWORD})
    check_answer(spec, "/api/v1/auth/login", "post", r)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    for path in ("/api/v1/me", "/api/v1/me/sessions"):
        r = admin.get(path, token=token)
        assert r.status_code == 200, (path, r.status_code, r.text[:200])
        check_answer(spec, path, "get", r)
    assert any(s["current"] for s in r.json()["sessions"]), r.json()
    r = admin.get("/auth/check?role=admin", token=token)
    assert r.status_code == 204, r.text
    check_answer(spec, "/auth/check", "get", r)


def test_refusals_carry_the_documented_problem_codes(stack, spec):
    account, pair = verified_login(stack)
    c = Client(stack)
    cases = [
        # (method, path, body, token, expected status)
        ("post", "/api/v1/users", {"username": "x"}, None, 400),
        ("post", "/api/v1/users", {"username": account.username, "email": account.email,
                                   "password": "Pw-unused-0123-Zq9"}, None, 409),
        ("post", "/api/v1/auth/login", {"login": account.username, "password": "wrong-one"},
         None, 401),
        ("post", "/api/v1/auth/refresh", {"refresh_token": "not-a-token"}, None, 401),
        ("post", "/api/v1/auth/verify-email", {"token": "not.a.token"}, None, 400),
        ("post", "/api/v1/auth/verify-email/resend", {"email": account.email}, None, 202),
        ("post", "/api/v1/me/password", {"current_password": "wrong-one",
                                         "new_password": "Pw-unused-0123-Zq9"},
         pair["access_token"], 403),
        ("delete", "/api/v1/me/sessions/{id}", None, pair["access_token"], 404),
        ("get", "/auth/check?role=admin", None, pair["access_token"], 403),
        ("get", "/api/v1/me", None, "garbage", 401),
    ]
    for method, path, body, token, status in cases:
        bare = path.split("?")[0]
        target = path.replace("{id}", "999999999")
        if body is None:
            r = c.request(method.upper(), target, token=token)
        else:
            r = c.json(method.upper(), target, body, token=token)
        assert r.status_code == status, (method, path, r.status_code, r.text[:300])
        check_answer(spec, bare, method, r)

"""The mobile contract in clients/mobile-schema/ is current, well formed and reproducible.

No database: the OpenAPI document is built from the app's routes alone.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from server.accounts.schemas import AccountPage, account_out
from server.contract import (
    COMPONENT_REF,
    DEFS_REF,
    DIALECT,
    INDEX,
    SCHEMA_DIR,
    build_contract,
    check_contract,
    openapi_document,
    write_contract,
)
from server.users.schemas import user_out

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "clients" / "mobile-schema"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROUTE_DECORATORS = {"get", "post", "put", "patch", "delete", "head", "route"}
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def contract() -> dict[str, bytes]:
    return build_contract()


@pytest.fixture(scope="module")
def schemas(contract) -> dict[str, dict]:
    return {name.removeprefix(f"{SCHEMA_DIR}/").removesuffix(".json"): json.loads(data)
            for name, data in contract.items()
            if name.startswith(f"{SCHEMA_DIR}/") and name != INDEX}


def by_title(schemas: dict[str, dict], title: str) -> dict:
    [schema] = [s for s in schemas.values() if s.get("title") == title]
    return schema


def test_checked_in_contract_is_current():
    stale = check_contract(CONTRACT)
    assert not stale, (
        f"the mobile contract in {CONTRACT.relative_to(ROOT)} is out of date ({', '.join(stale)}): "
        "run `fieldsales contract write` (or `.venv/bin/python -m server.contract write`) and commit the result"
    )


def test_every_operation_has_a_unique_operation_id():
    seen: dict[str, str] = {}
    for path, item in openapi_document()["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            assert op_id, f"{where} has no operationId"
            assert re.fullmatch(r"[a-z][a-z0-9_]*", op_id), f"{where}: operationId {op_id!r} is not snake_case"
            assert op_id not in seen, f"operationId {op_id!r} is used by {seen[op_id]} and {where}"
            seen[op_id] = where
    assert seen


def test_our_route_handlers_declare_operation_ids(tmp_path):
    """Generated ids change when a handler is renamed; the phone's generated client must not."""
    from server.app import create_app
    from server.config import load_settings

    app = create_app(load_settings(database_url="sqlite:///:memory:", secret_key="contract", data_dir=str(tmp_path)))
    handlers = [h for route in app.routes for h in getattr(route, "route_handlers", [])
                if h.fn.__module__.startswith("server.")]
    assert handlers
    for handler in handlers:
        assert isinstance(handler.operation_id, str) and handler.operation_id, (
            f"{handler.fn.__module__}.{handler.handler_name} needs operation_id=\"...\"")


def test_route_modules_declare_operation_ids():
    """Also catches routes in server/routes/*.py not yet wired into the app."""
    missing = []
    for path in sorted((ROOT / "server" / "routes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for dec in node.decorator_list:
                if (isinstance(dec, ast.Call) and isinstance(dec.func, ast.Name)
                        and dec.func.id in ROUTE_DECORATORS
                        and not any(k.arg == "operation_id" for k in dec.keywords)):
                    missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not missing, f"route handlers without operation_id=: {missing}"


def test_json_schema_files_are_valid_and_self_contained(contract, schemas):
    assert schemas
    components = json.loads(contract["openapi.json"])["components"]["schemas"]
    assert set(schemas) == set(components)
    for name, schema in schemas.items():
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == DIALECT
        assert schema["$id"].endswith(f"/{name}.json")
        text = json.dumps(schema)
        assert COMPONENT_REF not in text, name
        for ref in re.findall(r'"\$ref": "([^"]*)"', text):
            assert ref.startswith(DEFS_REF) and ref[len(DEFS_REF):] in schema["$defs"], (name, ref)


def test_index_lists_every_schema(contract, schemas):
    index = json.loads(contract[INDEX])
    assert [e["name"] for e in index["schemas"]] == sorted(schemas)
    for entry in index["schemas"]:
        assert f"{SCHEMA_DIR}/{entry['file']}" in contract
        assert entry["$id"] == schemas[entry["name"]]["$id"]
    assert contract["VERSION"].decode() == json.loads(contract["openapi.json"])["info"]["version"] + "\n"


def account_row(**fields) -> dict:
    row = dict(id=uuid.uuid4(), name="Acme Widgets", owner_id=None, status="customer", industry=None,
               phone_e164="+13125550142", email=None, website=None, address_line=None, city="Chicago",
               state=None, postal_code=None, country="US", lat=41.8781, lng=-87.6298, h3_cell="882664c1a9fffff",
               potential=Decimal("125000.50"), visit_every_days=14, visit_minutes=30, version=3,
               created_at=NOW, updated_at=NOW)
    return {**row, **fields}


def user_row() -> dict:
    return dict(id=uuid.uuid4(), org_id=uuid.uuid4(), email="rep@example.com", full_name="Rep",
                role="rep", manager_id=None, timezone="America/Chicago", phone_e164=None,
                home_lat=None, home_lng=None, capacity_fte=Decimal("1.0"), active=1, version=1,
                updated_at=NOW)


def validator(schema: dict) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def wire(value) -> object:
    return json.loads(msgspec.json.encode(value))


def test_schemas_validate_real_responses(schemas):
    account = wire(account_out(account_row()))
    assert account["potential"] == "125000.50"  # money leaves as a decimal string
    validator(schemas["AccountOut"]).validate(account)
    validator(schemas["AccountPage"]).validate(
        wire(AccountPage(items=[account_out(account_row(potential=None))], next_cursor="opaque")))
    validator(schemas["UserOut"]).validate(wire(user_out(user_row())))
    with pytest.raises(ValidationError):
        validator(schemas["AccountOut"]).validate({**account, "id": "not-a-uuid"})
    with pytest.raises(ValidationError):
        validator(schemas["AccountOut"]).validate({k: v for k, v in account.items() if k != "version"})


def test_generation_is_deterministic(contract):
    assert build_contract() == contract


def test_generation_does_not_depend_on_hash_seed(tmp_path):
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-m", "server.contract", "write", str(tmp_path)],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    assert check_contract(tmp_path) == []


def test_write_removes_stale_schemas_and_check_reports_them(tmp_path, contract):
    assert sorted(write_contract(tmp_path)) == sorted(contract)
    assert write_contract(tmp_path) == []
    (tmp_path / SCHEMA_DIR / "Gone.json").write_text("{}")
    (tmp_path / "openapi.json").write_text("{}")
    (tmp_path / "VERSION").unlink()
    assert check_contract(tmp_path) == ["VERSION", f"{SCHEMA_DIR}/Gone.json", "openapi.json"]
    assert write_contract(tmp_path) == ["VERSION", f"{SCHEMA_DIR}/Gone.json", "openapi.json"]
    assert check_contract(tmp_path) == []

"""Import files built to exhaust the server (archive bombs, forged zips, DTD tricks, sheets of a million rows)
are refused with 4xx before a parser runs; big legitimate files run as one background job per tenant."""

from __future__ import annotations

import io
import struct
import threading
import uuid
import zipfile
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from omnidesk.core.db import Database
from omnidesk.core.settings import Settings
from omnidesk.knowledge import imports
from omnidesk.knowledge.archive import Limits
from omnidesk.security.permissions import Role
from omnidesk.web.app import create_app
from tests.factories import World
from tests.knowledge.conftest import Shop
from tests.knowledge.test_ui import _csrf, _login

KM = Role.KNOWLEDGE_MANAGER
HEADER = "question,answer,language"


def _import(client: TestClient, shop: Shop, fmt: str, content: bytes, **params: object) -> object:
    return client.post(
        "/api/v1/knowledge/import",
        params={"format": fmt, **params},
        files={"file": (f"f.{fmt}", content)},
        headers=shop.headers(KM),
    )


def _workbook(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("faq")
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _replace_member(content: bytes, name: str, chunks: Iterator[bytes]) -> bytes:
    """The workbook with member ``name`` rewritten from ``chunks`` (streamed: nothing big is held in memory)."""
    src = zipfile.ZipFile(io.BytesIO(content))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == name:
                target = zipfile.ZipInfo(name)
                target.compress_type = zipfile.ZIP_DEFLATED
                with dst.open(target, "w") as member:
                    for chunk in chunks:
                        member.write(chunk)
            else:
                dst.writestr(info, src.read(info.filename), zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _sheet_bomb(megabytes: int) -> Iterator[bytes]:
    """A valid header row, then ``megabytes`` of rows of blank cells (a reader skipping blank rows reads on)."""
    yield (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>'
        + b"".join(b'<c t="inlineStr"><is><t>%s</t></is></c>' % h for h in (b"question", b"answer", b"language"))
        + b"</row>"
    )
    row = b'<row><c t="inlineStr"><is><t> </t></is></c><c t="inlineStr"><is><t> </t></is></c></row>' * 10_000
    for _ in range(megabytes * 1024 * 1024 // len(row)):
        yield row
    yield b"</sheetData></worksheet>"


def _lie_about_size(content: bytes, name: str, declared: int) -> bytes:
    """Rewrite the member's uncompressed size in the central directory (what zipfile trusts)."""
    data = bytearray(content)
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_len = struct.unpack("<H", data[at + 28 : at + 30])[0]
        if data[at + 46 : at + 46 + name_len] == name.encode():
            data[at + 24 : at + 28] = struct.pack("<I", declared)
            return bytes(data)
        at = data.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the central directory")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A workbook whose sheet XML is 200 MB of repeated cells, deflated to well under 1 MB."""
    good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
    content = _replace_member(good, "xl/worksheets/sheet1.xml", _sheet_bomb(200))
    assert len(content) < 1024 * 1024
    return content


def test_an_xlsx_bomb_is_refused_from_its_directory(client: TestClient, shop: Shop, bomb: bytes) -> None:
    r = _import(client, shop, "xlsx", bomb)
    assert r.status_code == 413, r.text
    assert "OMNIDESK_KNOWLEDGE_IMPORT_MAX_MEMBER_BYTES" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()["items"] == []


def test_an_xlsx_bomb_with_a_lying_header_is_stopped_while_inflating(
    client: TestClient, shop: Shop, bomb: bytes
) -> None:
    # The header claims 900 KiB: small enough to pass every declared check; inflation stops right after it.
    liar = _lie_about_size(bomb, "xl/worksheets/sheet1.xml", 900 * 1024)
    r = _import(client, shop, "xlsx", liar)
    assert r.status_code == 422, r.text
    assert "forged" in r.json()["detail"]


def test_a_bomb_under_the_member_cap_is_refused_by_its_ratio(client: TestClient, shop: Shop) -> None:
    good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
    r = _import(client, shop, "xlsx", _replace_member(good, "xl/worksheets/sheet1.xml", _sheet_bomb(20)))
    assert r.status_code == 413 and "MAX_RATIO" in r.json()["detail"], r.text


def test_forged_and_damaged_zips_are_4xx(client: TestClient, shop: Shop) -> None:
    markdown = io.BytesIO()
    with zipfile.ZipFile(markdown, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("en/a.md", "---\ntitle: Q\nlanguage: en\n---\n" + "answer " * 500)
    data = bytearray(markdown.getvalue())
    data[60:70] = b"\xff" * 10  # inside the deflated member: a bad stream or a bad CRC
    workbook = bytearray(_workbook([["question", "answer", "language"], ["q", "a", "en"]]))
    at = workbook.find(b"xl/worksheets/sheet1.xml")
    workbook[at + 40 : at + 60] = b"\x00" * 20
    for fmt, content in [
        ("markdown", bytes(data)),
        ("markdown", b"PK\x03\x04" + b"\x00" * 100),
        ("xlsx", bytes(workbook)),
        ("xlsx", b"PK\x05\x06" + b"\xff" * 18),
        ("markdown", markdown.getvalue()[:-30]),
    ]:
        r = _import(client, shop, fmt, content)
        assert r.status_code in (413, 422), (fmt, r.status_code, r.text)


def _rewrite(content: bytes, name: str, data: bytes) -> bytes:
    return _replace_member(content, name, iter([data]))


def _forged(kind: str) -> tuple[str, bytes]:
    good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
    directory = good.rfind(b"PK\x01\x02")  # the last central-directory record
    if kind == "truncated":
        return "xlsx", good[: len(good) * 2 // 3]
    if kind == "bad crc":
        data = bytearray(good)
        at = data.find(b"PK\x01\x02") + 16  # the first member's CRC-32 in the central directory
        data[at : at + 4] = b"\xde\xad\xbe\xef"
        return "xlsx", bytes(data)
    if kind == "wrong central directory":
        data = bytearray(good)
        data[directory + 42 : directory + 46] = struct.pack("<I", 7)  # a member's offset pointing mid-file
        return "xlsx", bytes(data)
    if kind == "a zip that is not xlsx":
        other = io.BytesIO()
        with zipfile.ZipFile(other, "w") as z:
            z.writestr("notes.txt", "hello")
        return "xlsx", other.getvalue()
    if kind == "a sheet that is not XML":
        return "xlsx", _rewrite(good, "xl/worksheets/sheet1.xml", b"not xml at all")
    if kind == "a workbook part that is not XML":
        return "xlsx", _rewrite(good, "xl/workbook.xml", b"not xml at all")
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "bad crc",
        "wrong central directory",
        "a zip that is not xlsx",
        "a sheet that is not XML",
        "a workbook part that is not XML",
    ],
)
def test_forged_workbooks_are_a_clear_422(app: FastAPI, shop: Shop, kind: str) -> None:
    fmt, content = _forged(kind)
    client = TestClient(app, raise_server_exceptions=False)
    r = _import(client, shop, fmt, content)
    assert r.status_code == 422, (kind, r.status_code, r.text)
    detail = r.json()["detail"]
    assert any(word in detail for word in ("readable", "damaged", "forged", "not a zip")), detail
    listed = client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()
    assert listed["items"] == []


def test_dtds_in_workbook_xml_are_refused(client: TestClient, shop: Shop) -> None:
    good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
    sheet = (
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x "expanded">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>question</t></is></c><c r="B1" t="inlineStr"><is><t>answer</t>'
        b'</is></c><c r="C1" t="inlineStr"><is><t>language</t></is></c></row><row r="2"><c r="A2" t="inlineStr">'
        b'<is><t>&x;</t></is></c><c r="B2" t="inlineStr"><is><t>a</t></is></c><c r="C2" t="inlineStr"><is><t>en</t>'
        b"</is></c></row></sheetData></worksheet>"
    )
    r = _import(client, shop, "xlsx", _replace_member(good, "xl/worksheets/sheet1.xml", iter([sheet])))
    assert r.status_code == 422 and "DTD" in r.json()["detail"], r.text


def test_sheets_over_the_row_column_and_text_limits_are_refused(client: TestClient, shop: Shop) -> None:
    good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
    ns = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    far_row = ns + b'<dimension ref="A1:C1048576"/><sheetData><row r="1048576"><c r="A1048576"><v>1</v></c></row>'
    far_column = ns + b'<dimension ref="A1:XFD1"/><sheetData><row r="1"><c r="XFD1"><v>1</v></c></row>'
    long_text = ns + b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>' + b"x" * 200_000 + b"</t></is></c></row>"
    for sheet, limit in [(far_row, "MAX_ROWS"), (far_column, "MAX_COLUMNS"), (long_text, "MAX_CELL_CHARS")]:
        content = _replace_member(good, "xl/worksheets/sheet1.xml", iter([sheet + b"</sheetData></worksheet>"]))
        r = _import(client, shop, "xlsx", content)
        assert r.status_code == 422 and limit in r.json()["detail"], r.text


def test_a_csv_field_over_the_csv_readers_limit_is_422(client: TestClient, shop: Shop) -> None:
    r = _import(client, shop, "csv", f'{HEADER}\nq,"{"a" * 200_000}",en\n'.encode())
    assert r.status_code == 422, r.text


def test_limits_are_settings(shop: Shop, settings: Settings, db: Database) -> None:
    app = create_app(settings.model_copy(update={"knowledge_import_max_rows": 2}), db=db, bus=db.bus)
    with TestClient(app) as client:
        r = _import(client, shop, "csv", f"{HEADER}\nq1,a,en\nq2,a,en\nq3,a,en\n".encode())
        assert r.status_code == 422 and "OMNIDESK_KNOWLEDGE_IMPORT_MAX_ROWS=2" in r.json()["detail"]
        assert _import(client, shop, "csv", f"{HEADER}\nq1,a,en\nq2,a,en\n".encode()).status_code == 200


# --- background imports --------------------------------------------------------------------------------------


def _big_csv(rows: int) -> bytes:
    return (HEADER + "\n" + "".join(f"question {i},answer {i},en\n" for i in range(rows))).encode()


@pytest.fixture
def queue_only_app(settings: Settings, db: Database) -> FastAPI:
    """Files over 1 KiB are queued; no job runs until the test runs the import itself (the job queue's own
    runner is tested in tests/jobs)."""
    return create_app(
        settings.model_copy(
            update={"knowledge_import_background_bytes": 1024, "run_jobs_in_process": False, "jobs_immediate": False}
        ),
        db=db,
        bus=db.bus,
    )


def test_a_big_import_runs_as_a_job_with_progress(
    queue_only_app: FastAPI, shop: Shop, other_shop: Shop, db: Database
) -> None:
    with TestClient(queue_only_app) as client:
        r = _import(client, shop, "csv", _big_csv(450))
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["state"] == "queued" and r.headers["location"] == job["status_url"]
        # One unfinished import per tenant: the next one waits, small or big; other tenants are not affected.
        assert _import(client, shop, "csv", _big_csv(3)).status_code == 409
        assert _import(client, shop, "csv", _big_csv(300)).status_code == 409
        assert _import(client, other_shop, "csv", _big_csv(3)).status_code == 200
        # Another tenant cannot see the job.
        assert client.get(job["status_url"], headers=other_shop.headers(Role.ADMIN)).status_code == 404

        seen: list[int] = []
        original = imports.transfer.apply

        def watching_apply(*args: object, **kwargs: object) -> None:
            seen.append(client.get(job["status_url"], headers=shop.headers(KM)).json()["rows_done"])
            original(*args, **kwargs)  # type: ignore[arg-type]

        imports.transfer.apply = watching_apply  # type: ignore[assignment]
        stop = threading.Event()
        loop = threading.Thread(target=imports.run, args=(db, shop.tenant_id, uuid.UUID(job["id"]), Limits()))
        loop.start()
        try:
            for _ in range(600):
                status = client.get(job["status_url"], headers=shop.headers(KM)).json()
                if status["state"] not in ("queued", "running"):
                    break
                stop.wait(0.05)
        finally:
            stop.set()
            loop.join(timeout=30)
            imports.transfer.apply = original  # type: ignore[assignment]
        assert status["state"] == "done", status
        assert status["rows_total"] == status["rows_done"] == 450 and status["created"] == 450
        assert seen == [0, 200, 400]  # progress was visible between the batches
        listed = client.get("/api/v1/knowledge/imports", headers=shop.headers(KM)).json()
        assert listed[0]["id"] == job["id"]
        # The tenant is free again.
        assert _import(client, shop, "csv", _big_csv(3)).status_code == 200


def test_bombs_are_refused_before_queueing_and_a_bad_sheet_fails_its_job(
    queue_only_app: FastAPI, shop: Shop, db: Database, bomb: bytes
) -> None:
    with TestClient(queue_only_app) as client:
        # The directory and a streamed inflation run in the request, so no bomb is ever queued.
        assert _import(client, shop, "xlsx", bomb).status_code == 413
        liar = _lie_about_size(bomb, "xl/worksheets/sheet1.xml", 900 * 1024)
        assert _import(client, shop, "xlsx", liar).status_code == 422
        # Parsing is the job's: a sheet over the row limit fails the job, which says why.
        good = _workbook([["question", "answer", "language"], ["q", "a", "en"]])
        far = (
            b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            + b'<row r="1"><c r="A1"><v>1</v></c></row>' * 100
            + b'<row r="1048576"><c r="A1048576"><v>1</v></c></row></sheetData></worksheet>'
        )
        r = _import(client, shop, "xlsx", _replace_member(good, "xl/worksheets/sheet1.xml", iter([far])))
        assert r.status_code == 202, r.text
        assert imports.run(db, shop.tenant_id, uuid.UUID(r.json()["id"]), Limits())
        status = client.get(r.json()["status_url"], headers=shop.headers(KM)).json()
        assert status["state"] == "failed" and "OMNIDESK_KNOWLEDGE_IMPORT_MAX_ROWS" in status["error"]
        assert client.get("/api/v1/knowledge/articles", headers=shop.headers(KM)).json()["items"] == []


def test_a_job_acts_with_its_starters_current_rights(queue_only_app: FastAPI, shop: Shop, db: Database) -> None:
    with TestClient(queue_only_app) as client:
        r = _import(client, shop, "csv", _big_csv(100))
        assert r.status_code == 202
        revoke = f"/api/v1/api-keys/{shop.key_ids[KM]}/revoke"
        assert client.post(revoke, headers=shop.headers(Role.ADMIN)).status_code == 200
        assert imports.run(db, shop.tenant_id, uuid.UUID(r.json()["id"]), Limits())
        status = client.get(r.json()["status_url"], headers=shop.headers(Role.ADMIN)).json()
        assert status["state"] == "failed" and "revoked" in status["error"]


def test_another_tenant_cannot_read_an_import(
    client: TestClient, world: World, other_world: World, db: Database
) -> None:
    with db.tenant_transaction(world.tenant_id) as s:
        job = imports.queue(
            s, world.actor(Role.ADMIN), "csv", _big_csv(3), filename="f.csv", all_or_nothing=True, limits=Limits()
        )
        job_id = job.id
    assert client.get(f"/api/v1/knowledge/imports/{job_id}", headers=world.headers(Role.ADMIN)).status_code == 200
    assert client.get(f"/api/v1/knowledge/imports/{job_id}", headers=other_world.headers(Role.ADMIN)).status_code == 404
    assert client.get("/api/v1/knowledge/imports", headers=other_world.headers(Role.ADMIN)).json() == []
    # Its job was queued in the same transaction and ran after the commit (immediate mode in tests).
    done = client.get(f"/api/v1/knowledge/imports/{job_id}", headers=world.headers(Role.ADMIN)).json()
    assert done["state"] == "done" and not imports.run(db, world.tenant_id, job_id, Limits())


def test_the_import_page_shows_limits_and_progress_in_the_readers_language(
    queue_only_app: FastAPI, world: World, db: Database, bomb: bytes
) -> None:
    with TestClient(queue_only_app) as client:
        _login(client, world, Role.KNOWLEDGE_MANAGER)
        client.cookies.set("omnidesk_lang", "zh-CN")
        csrf = _csrf(client.get("/knowledge").text)
        r = client.post("/knowledge/import", data={"csrf": csrf, "format": "xlsx"}, files={"file": ("faq.xlsx", bomb)})
        assert r.status_code == 422 and "解压后超过" in r.text
        r = client.post(
            "/knowledge/import",
            data={"csrf": csrf, "format": "csv"},
            files={"file": ("faq.csv", _big_csv(250))},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"].startswith("/knowledge/imports/")
        page = client.get(r.headers["location"])
        assert page.status_code == 200 and "已排队" in page.text and 'http-equiv="refresh"' in page.text
        assert imports.run(db, world.tenant_id, uuid.UUID(r.headers["location"].rsplit("/", 1)[1]), Limits())
        client.cookies.set("omnidesk_lang", "en")
        page = client.get(r.headers["location"])
        assert "The import has finished." in page.text and "250 of 250 rows" in page.text
        assert 'http-equiv="refresh"' not in page.text

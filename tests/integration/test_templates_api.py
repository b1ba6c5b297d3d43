"""POST /v1/templates and GET /v1/templates/{id}."""

from __future__ import annotations

import pytest

from tests.support import bucket, s3, body_of, example_dap, http_event, load_function, multipart, simple_dap, zip_files


@pytest.fixture
def post(aws):
    return load_function("post_template").lambda_handler


@pytest.fixture
def get(aws):
    return load_function("get_template").lambda_handler


def test_upload_raw_zip_answers_201_and_same_bytes_same_id(post, ctx):
    data = example_dap()
    first = post(http_event("post_template", body=data, content_type="application/zip"), ctx)
    second = post(http_event("post_template", body=data, content_type="application/zip"), ctx)
    assert first["statusCode"] == 201
    info = body_of(first)
    assert info["name"] == "Account profile"
    assert len(info["id"]) == 32 and info["sha256"].startswith(info["id"])
    assert body_of(second)["id"] == info["id"]


def test_an_invalid_dap_is_named_by_its_first_problem_not_twice_as_invalid(post, ctx):
    answer = post(http_event("post_template", body=b"not a zip", content_type="application/zip"), ctx)

    assert body_of(answer)["message"] == "Invalid DAP: package is not a valid zip archive"


def test_upload_as_multipart_file_part(post, ctx):
    body, ctype = multipart([("template", "x.dap", "application/octet-stream", simple_dap())])
    answer = post(http_event("post_template", body=body, content_type=ctype), ctx)
    assert answer["statusCode"] == 201
    assert body_of(answer)["name"] == "Greeting"


def test_invalid_dap_is_400_naming_problems_and_nothing_stored(post, aws, ctx):
    bad = zip_files({"dap.yaml": "name: x\nsteps:\n  - compose: {template: missing.html, as: a}\n"})
    answer = post(http_event("post_template", body=bad, content_type="application/zip"), ctx)
    assert answer["statusCode"] == 400
    body = body_of(answer)
    assert body["code"] == "bad_request"
    assert any("missing.html" in e["message"] for e in body["errors"])
    assert s3().list_objects_v2(Bucket=bucket()).get("KeyCount", 0) == 0


def test_not_a_zip_is_400(post, ctx):
    answer = post(http_event("post_template", body=b"not a zip", content_type="application/zip"), ctx)
    assert answer["statusCode"] == 400


def test_wrong_content_type_is_415(post, ctx):
    answer = post(http_event("post_template", body="hello", content_type="text/plain"), ctx)
    assert answer["statusCode"] == 415
    assert body_of(answer)["code"] == "unsupported_media_type"


def test_too_large_is_413(post, ctx):
    answer = post(http_event("post_template", body=b"0" * (4 * 1024 * 1024 + 1), content_type="application/zip"), ctx)
    assert answer["statusCode"] == 413


def test_get_metadata_and_404s(post, get, ctx):
    info = body_of(post(http_event("post_template", body=example_dap(), content_type="application/zip"), ctx))
    found = get(http_event("get_template", path_params={"templateId": info["id"]}), ctx)
    assert found["statusCode"] == 200
    assert body_of(found)["sha256"] == info["sha256"]
    assert body_of(found)["name"] == "Account profile"
    other_tenant = get(http_event("get_template", tenant="globex", path_params={"templateId": info["id"]}), ctx)
    assert other_tenant["statusCode"] == 404
    unknown = get(http_event("get_template", path_params={"templateId": "0" * 32}), ctx)
    assert unknown["statusCode"] == 404
    assert body_of(unknown)["code"] == "not_found"


def _hostile_word_templates() -> dict[str, bytes]:
    from tests.unit.dap.test_documents import OFFER_DOCX, rezip, with_symlink

    return {
        "ratio-bomb": rezip(OFFER_DOCX, {"word/bomb.xml": b"a" * (3 * 1024 * 1024)}),
        "dotdot": rezip(OFFER_DOCX, {"../evil.xml": b"x"}),
        "absolute": rezip(OFFER_DOCX, {"/abs.xml": b"x"}),
        "symlink": with_symlink(OFFER_DOCX),
        "trailing-bytes": OFFER_DOCX + b"trailing",
        "too-many-entries": rezip(OFFER_DOCX, {f"x/{i}": b"" for i in range(200)}),
    }


@pytest.mark.parametrize("attack", sorted(_hostile_word_templates()))
def test_a_hostile_word_template_is_refused_by_the_upload_handler(aws, ctx, attack):
    from tests.support import body_of, http_event, load_function, zip_files

    manifest = "name: W\nsteps:\n  - compose: {template: t.docx, as: w}\n  - store: {from: w, id: W}\n"
    dap = zip_files({"dap.yaml": manifest, "t.docx": _hostile_word_templates()[attack]})
    answer = load_function("post_template").lambda_handler(
        http_event("post_template", body=dap, content_type="application/zip"), ctx
    )
    assert answer["statusCode"] == 400, answer
    assert any(e["message"].startswith("t.docx: ") for e in body_of(answer)["errors"]), body_of(answer)

"""The steward's dataset workbench over HTTP: list, create, edit (with messages beside the fields and
stale edits kept), history with a diff, publish / unpublish / tombstone / restore, refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from catalog.context import Context
from tests.web.conftest import AUTH, add_user, csrf_of, sign_in


def _form(client: TestClient, path: str) -> dict[str, Any]:
    """The fields an edit page posts back as it stands (text inputs, checked boxes, selected options)."""
    import re

    html = client.get(path).text
    form_html = html[html.index('id="dataset-form"') : html.index("</form>", html.index('id="dataset-form"'))]
    data: dict[str, Any] = {}
    for m in re.finditer(r'<input id="[^"]*" name="([^"]+)" type="[^"]*" value="([^"]*)"', form_html):
        data[m.group(1)] = m.group(2)
    for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form_html):
        data[m.group(1)] = m.group(2)
    for m in re.finditer(r'<input type="checkbox" name="([^"]+)" value="([^"]+)"[^>]*checked', form_html):
        data.setdefault(m.group(1), []).append(m.group(2))
    for m in re.finditer(r'<textarea id="[^"]*" name="([^"]+)"[^>]*>([^<]*)</textarea>', form_html):
        data[m.group(1)] = m.group(2)
    return data


def test_a_steward_creates_a_dataset_and_a_wrong_value_is_shown_beside_its_field(steward_client: TestClient) -> None:
    client = steward_client
    csrf = csrf_of(client.get("/steward/datasets/new").text)
    bad = client.post(
        "/steward/datasets/new",
        data={"csrf": csrf, "title__en": "Knee MRI", "title__zh-Hant": "膝關節", "dist-0-access_url": "not a url",
              "cases-shared-image_only": "many", "modalities": ["MR"]},
    )  # fmt: skip
    assert bad.status_code == 400
    assert 'id="e-dist-0-access_url"' in bad.text and 'id="e-cases-shared-image_only"' in bad.text
    assert 'value="Knee MRI"' in bad.text and 'value="MR" id="f-modalities-MR" checked' in bad.text
    assert "Knee MRI" not in client.get("/steward/datasets").text  # nothing saved
    ok = client.post(
        "/steward/datasets/new",
        data={"csrf": csrf, "title__en": "Knee MRI", "title__zh-Hant": "膝關節", "modalities": ["MR"],
              "cases-shared-image_only": "4", "licence": "CC_BY_4_0", "dist-0-access_url": "https://x.example/k"},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303 and ok.headers["location"].endswith("/edit?saved=1")
    listing = client.get("/steward/datasets?q=膝關節").text
    assert "Knee MRI" in listing or "膝關節" in listing


def test_add_another_re_renders_with_one_more_row_and_keeps_the_text(steward_client: TestClient) -> None:
    client = steward_client
    csrf = csrf_of(client.get("/steward/datasets/new").text)
    r = client.post(
        "/steward/datasets/new",
        data={"csrf": csrf, "title__en": "Kept", "dist_rows": "1", "contact_rows": "1", "add": "contact"},
    )
    assert r.status_code == 200 and 'id="contact-1"' in r.text and 'value="Kept"' in r.text
    assert 'id="contact-2"' not in r.text


def test_an_edit_saves_a_revision_with_its_reason_and_the_history_shows_both_languages(
    steward_client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    client = steward_client
    guid = add("Lung CT")
    data = _form(client, f"/steward/datasets/{guid}/edit")
    data.update({"title__en": "Lung CT v2", "title__zh-Hant": "肺部電腦斷層 第二版", "modalities": ["CT", "MR"],
                 "reason": "new title", "add": ""})  # fmt: skip
    r = client.post(f"/steward/datasets/{guid}/edit", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text[:2000]
    hist = client.get(f"/steward/datasets/{guid}/history")
    last = ctx.store.revisions(guid)[-1]
    assert hist.status_code == 200 and "new title" in hist.text and f"<td>{last.actor}</td>" in hist.text
    assert 'data-path="title" data-lang="en"' in hist.text and 'data-path="title" data-lang="zh-Hant"' in hist.text
    assert "肺部電腦斷層 第二版" in hist.text and 'data-path="imaging.modalities"' in hist.text
    # fields the form does not show are kept (the case counts of the other portion, the description)
    assert "A dataset for tests" in client.get(f"/api/datasets/{guid}").text


def test_a_stale_edit_is_refused_with_both_versions_and_keeps_the_users_text(
    steward_client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    client = steward_client
    guid = add("Lung CT")
    data = _form(client, f"/steward/datasets/{guid}/edit")
    current = ctx.store.get(guid)
    ctx.store.save(current.dataset.model_copy(update={"title": {"en": "Theirs", "zh-Hant": "他們的"}}), actor="other")
    data.update({"title__en": "Mine", "add": ""})
    r = client.post(f"/steward/datasets/{guid}/edit", data=data)
    assert r.status_code == 409 and 'id="conflict"' in r.text
    assert 'value="Mine"' in r.text and "Theirs" in r.text
    assert ctx.store.get(guid).dataset.title["en"] == "Theirs"
    again = _form_of_html(r.text)
    assert again["base_revision"] == "2"


def _form_of_html(html: str) -> dict[str, str]:
    import re

    return {m.group(1): m.group(2) for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def test_unpublish_hides_a_dataset_from_the_public_but_not_from_stewards_and_publish_brings_it_back(
    steward_client: TestClient, add: Callable[..., str], client: TestClient, ctx: Context
) -> None:
    guid = add("Hidden CT")
    csrf = csrf_of(steward_client.get(f"/steward/datasets/{guid}/edit").text)
    r = steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "unpublish"},
                            follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and ctx.store.get(guid).status == "unpublished"
    assert steward_client.get(f"/dataset/{guid}").status_code == 200  # stewards still resolve it
    anon = TestClient(client.app)
    assert anon.get(f"/dataset/{guid}").status_code == 404
    assert anon.get(f"/api/datasets/{guid}").status_code == 404
    assert anon.get(f"/dataset/{guid}.ttl").status_code == 404
    assert anon.get(f"/api/datasets/{guid}", headers=AUTH).status_code == 200
    assert guid not in anon.get("/catalog.ttl").text
    assert guid not in anon.get("/api/search?q=Hidden").text
    assert anon.get(f"/api/3/action/package_show?id={guid}").status_code == 404
    assert "Hidden CT" in steward_client.get("/steward/datasets?state=unpublished").text
    # an edit keeps it unpublished
    data = _form(steward_client, f"/steward/datasets/{guid}/edit")
    data.update({"title__en": "Hidden CT 2", "add": ""})
    assert steward_client.post(f"/steward/datasets/{guid}/edit", data=data, follow_redirects=False).status_code == 303
    assert ctx.store.get(guid).status == "unpublished"
    assert guid not in anon.get("/api/search?q=Hidden").text
    steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "publish"})
    assert ctx.store.get(guid).status == "active"
    assert anon.get(f"/dataset/{guid}").status_code == 200
    assert guid in anon.get("/api/search?q=Hidden").text


def test_a_tombstone_needs_a_reason_and_restore_brings_it_back(
    steward_client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    guid = add("Gone CT")
    csrf = csrf_of(steward_client.get(f"/steward/datasets/{guid}/edit").text)
    r = steward_client.post(
        f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "tombstone", "reason": " "}
    )
    assert r.status_code == 400 and 'id="e-state_reason"' in r.text and ctx.store.get(guid).status == "active"
    steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "tombstone", "reason": "dup"})
    assert ctx.store.get(guid).status == "tombstoned"
    assert "Gone CT" in steward_client.get("/steward/datasets?state=tombstoned").text
    steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "restore"})
    assert ctx.store.get(guid).status == "active"
    acts = [r.activity for r in ctx.store.revisions(guid)]
    assert acts[-2:] == ["tombstone", "restore"]


def test_every_workbench_change_is_audited(steward_client: TestClient, add: Callable[..., str], ctx: Context) -> None:
    from catalog.api.auth import audit_of

    guid = add("Audited")
    csrf = csrf_of(steward_client.get(f"/steward/datasets/{guid}/edit").text)
    steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "unpublish"})
    text = repr(audit_of(ctx).entries())
    assert "dataset.unpublish" in text and guid in text


def test_forms_without_the_csrf_token_or_with_nonsense_never_reach_a_500(
    steward_client: TestClient, add: Callable[..., str], ctx: Context
) -> None:
    guid = add("Safe")
    r = steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": "wrong", "action": "unpublish"})
    assert r.status_code in (400, 403) and ctx.store.get(guid).status == "active"
    csrf = csrf_of(steward_client.get("/steward/datasets/new").text)
    for data in (
        {"csrf": csrf},
        {"csrf": csrf, "title__en": "x", "issued": "yesterday", "base_revision": "abc", "dist_rows": "-4"},
        {"csrf": csrf, "title__en": "x", "licence": "mine", "access_rights": "nope", "health_themes": "not an iri"},
        {"csrf": csrf, "title__en": "x", "contact-0-name__en": "Desk", "publisher_email": "a@b"},
    ):
        assert steward_client.post("/steward/datasets/new", data=data).status_code == 400
        assert steward_client.post(f"/steward/datasets/{guid}/edit", data=data).status_code == 400
    assert steward_client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "x"}).status_code == 400
    assert steward_client.get(f"/steward/datasets/{guid}/history?a=99&b=-1").status_code == 200
    assert steward_client.get("/steward/datasets/nope/nothing/edit").status_code == 404


def test_a_researcher_cannot_open_or_post_to_the_workbench(
    client: TestClient, ctx: Context, add: Callable[..., str]
) -> None:
    guid = add("Closed")
    add_user(ctx, "r@ntu.edu.tw", "researcher")
    assert sign_in(client, "r@ntu.edu.tw").status_code == 303
    for path in ("/steward/datasets", "/steward/datasets/new", f"/steward/datasets/{guid}/edit",
                 f"/steward/datasets/{guid}/history"):  # fmt: skip
        assert client.get(path).status_code == 403
    csrf = csrf_of(client.get("/account").text)
    r = client.post(f"/steward/datasets/{guid}/state", data={"csrf": csrf, "action": "unpublish"})
    assert r.status_code == 403 and ctx.store.get(guid).status == "active"


def test_an_upload_is_previewed_and_written_only_when_confirmed(steward_client: TestClient, ctx: Context) -> None:
    from tests.test_upload_import import TURTLE

    client = steward_client
    csrf = csrf_of(client.get("/steward/import").text)
    bad = client.post("/steward/import", data={"csrf": csrf}, files={"file": ("x.exe", b"MZ", "application/x")})
    assert bad.status_code == 400 and 'id="import-error"' in bad.text
    r = client.post("/steward/import", data={"csrf": csrf}, files={"file": ("c.ttl", TURTLE, "text/turtle")})
    assert r.status_code == 200 and 'data-what="create"' in r.text and 'id="shacl"' in r.text
    assert ctx.store.count() == 0  # nothing written by the preview
    token = _form_of_html(r.text)["token"]
    done = client.post("/steward/import/confirm", data={"csrf": csrf, "token": token}, follow_redirects=False)
    assert done.status_code == 303 and ctx.store.count() == 1
    assert client.post("/steward/import/confirm", data={"csrf": csrf, "token": token}).status_code == 404
    again = client.post("/steward/import", data={"csrf": csrf}, files={"file": ("c.ttl", TURTLE, "text/turtle")})
    assert 'data-what="unchanged"' in again.text


def test_a_researcher_cannot_upload(client: TestClient, ctx: Context) -> None:
    add_user(ctx, "r@ntu.edu.tw", "researcher")
    sign_in(client, "r@ntu.edu.tw")
    csrf = csrf_of(client.get("/account").text)
    assert client.get("/steward/import").status_code == 403
    files = {"file": ("c.csv", b"id,title_en\na,A\n", "text/csv")}
    assert client.post("/steward/import", data={"csrf": csrf}, files=files).status_code == 403
    assert ctx.store.count() == 0

"""The AI-model pages over HTTP: the public list with its class facet and bilingual search, the model
page in both languages, the dataset page's "models trained on this dataset", and the steward's form
(role and CSRF required, input kept, each message beside its field, unknown dataset GUIDs refused)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from catalog.context import Context
from catalog.models.store import models_of
from schemas import AIModel
from tests.models.conftest import a_dataset, model_json
from tests.web.conftest import add_user, csrf_of, sign_in


def _seed(ctx: Context) -> tuple[str, str]:
    lung = a_dataset(ctx.store)
    models = models_of(ctx)
    guid = models.save(AIModel.model_validate(model_json(training=[lung])), actor="t").guid
    heart = model_json("validated_software", name={"zh-Hant": "心臟軟體", "en": "Heart software"})
    models.save(AIModel.model_validate(heart), actor="t")
    return guid, lung


def test_the_list_filters_by_class_and_finds_either_language(client: TestClient, ctx: Context) -> None:
    _seed(ctx)
    both = client.get("/models", params={"lang": "en"}).text
    assert "Lung nodule detector" in both and "Heart software" in both
    only = client.get("/models", params={"lang": "zh-Hant", "sharing_class": "validated_software"}).text
    assert "心臟軟體" in only and "肺結節偵測" not in only and 'aria-current="true">驗證軟體' in only
    found = client.get("/models", params={"q": "肺結節", "lang": "en"}).text
    assert "Lung nodule detector" in found and "Heart software" not in found
    link = found.split('data-class="base_tool"><a href="', 1)[1].split('"', 1)[0]
    assert "q=%E8%82%BA%E7%B5%90%E7%AF%80" in link and "sharing_class=base_tool" in link  # the facet keeps the words


def test_the_model_page_and_the_dataset_page_show_the_lineage_in_both_languages(
    client: TestClient, ctx: Context
) -> None:
    guid, lung = _seed(ctx)
    for lang, heading, klass in (("en", "Trained on", "Base tool"), ("zh-Hant", "訓練資料", "基礎工具")):
        page = client.get(f"/model/{guid}", params={"lang": lang}).text
        assert heading in page and klass in page and f'href="/dataset/{lung}"' in page
    for lang, heading in (("en", "AI models trained on this dataset"), ("zh-Hant", "以此資料集訓練之 AI 模型")):
        page = client.get(f"/dataset/{lung}", params={"lang": lang}).text
        assert heading in page and f'href="/model/{guid}"' in page
    assert client.get("/model/dg.TW01/00000000-0000-4000-8000-000000000000").status_code == 404


def test_the_form_needs_a_signed_in_steward(client: TestClient, ctx: Context) -> None:
    assert client.get("/steward/models/new", follow_redirects=False).status_code == 303
    add_user(ctx, "r@x.org", "researcher")
    sign_in(client, "r@x.org")
    assert client.get("/steward/models/new").status_code == 403
    assert client.post("/steward/models/new", data={"csrf": "x", "name__en": "X"}).status_code == 403


def test_a_post_without_this_browsers_csrf_token_is_refused(steward_client: TestClient) -> None:
    r = steward_client.post("/steward/models/new", data={"csrf": "forged", **_valid_form()})
    assert r.status_code in (400, 403) and models_count(steward_client) == 0


def _valid_form() -> dict[str, object]:
    return {
        "name__zh-Hant": "肺結節偵測", "name__en": "Lung nodule detector", "description__zh-Hant": "說明",
        "description__en": "About", "sharing_class": "base_tool", "channels": ["open_source"], "task": "detection",
        "modalities": ["CT"], "version": "1.0",
    }  # fmt: skip


def models_count(client: TestClient) -> int:
    count: int = client.get("/api/models").json()["count"]
    return count


def test_bad_input_is_kept_with_each_message_beside_its_field(steward_client: TestClient, ctx: Context) -> None:
    lung = a_dataset(ctx.store)
    csrf = csrf_of(steward_client.get("/steward/models/new").text)
    missing = "dg.TW01/00000000-0000-4000-8000-000000000000"
    form = {**_valid_form(), "csrf": csrf, "name__en": "", "channels": ["cloud"], "perf-0-metric": "AUROC",
            "perf-0-value": "high", "training_datasets": f"{lung}\n{missing}"}  # fmt: skip
    r = steward_client.post("/steward/models/new", data=form, params={"lang": "en"})
    assert r.status_code == 400
    for field in ("name__en", "channels", "perf-0-value", "training_datasets"):
        assert f'id="e-{field}"' in r.text, field
    assert f"No dataset of this catalog has the GUID {missing}" in r.text
    assert 'value="肺結節偵測"' in r.text and 'value="AUROC"' in r.text and lung in r.text
    assert 'id="f-channels-cloud" checked' in r.text
    assert models_count(steward_client) == 0


def test_a_steward_creates_then_edits_a_model_and_a_stale_edit_keeps_their_text(
    steward_client: TestClient, ctx: Context
) -> None:
    lung = a_dataset(ctx.store)
    csrf = csrf_of(steward_client.get("/steward/models/new").text)
    form = {**_valid_form(), "csrf": csrf, "training_datasets": lung, "perf-0-metric": "AUROC", "perf-0-value": "0.9",
            "perf-0-dataset": lung, "licence": "CC_BY_4_0"}  # fmt: skip
    created = steward_client.post("/steward/models/new", data=form, follow_redirects=False)
    assert created.status_code == 303 and created.headers["location"].endswith("/edit?saved=1")
    guid = models_of(ctx).search()[0].guid
    stored = models_of(ctx).get(guid)
    assert stored.model.training_datasets == [lung] and stored.model.performance[0].dataset_guid == lung
    edit = steward_client.get(f"/steward/models/{guid}/edit").text
    assert 'value="0.9"' in edit and 'name="base_revision" value="1"' in edit
    models_of(ctx).save(stored.model.model_copy(update={"version": "theirs"}), actor="other")
    stale = steward_client.post(
        f"/steward/models/{guid}/edit", data={**form, "version": "mine", "base_revision": "1"}, params={"lang": "en"}
    )
    assert stale.status_code == 409 and 'value="mine"' in stale.text and 'id="conflict"' in stale.text
    saved = steward_client.post(f"/steward/models/{guid}/edit", data={**form, "version": "mine", "base_revision": "2"})
    assert saved.status_code == 200 and models_of(ctx).get(guid).model.version == "mine"


def test_add_another_figure_re_renders_with_one_more_row(steward_client: TestClient) -> None:
    csrf = csrf_of(steward_client.get("/steward/models/new").text)
    form = {**_valid_form(), "csrf": csrf, "perf-0-metric": "AUROC", "perf-0-value": "0.9", "perf-1-metric": "F1",
            "perf-1-value": "0.8", "add_figure": "1"}  # fmt: skip
    r = steward_client.post("/steward/models/new", data=form)
    assert r.status_code == 200 and 'id="f-perf-2-metric"' in r.text and 'value="F1"' in r.text
    assert models_count(steward_client) == 0


def test_the_history_lists_every_revision_with_what_changed_for_stewards_only(client: TestClient, ctx: Context) -> None:
    guid, _ = _seed(ctx)
    models = models_of(ctx)
    models.save(models.get(guid).model.model_copy(update={"version": "2.0"}), actor="steward", reason="retrained")
    assert client.get(f"/steward/models/{guid}/history", follow_redirects=False).status_code == 303
    add_user(ctx, "s@x.org", "steward")
    sign_in(client, "s@x.org")
    page = client.get(f"/steward/models/{guid}/history", params={"lang": "en"}).text
    assert page.count('<li data-revision="') == 2 and "retrained" in page
    assert '<tr data-path="version"><th scope="row"><code>version</code></th><td>1.0</td><td>2.0</td>' in page
    assert f'href="/steward/models/{guid}/history"' in client.get(f"/model/{guid}").text

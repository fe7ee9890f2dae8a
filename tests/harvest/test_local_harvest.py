"""Local folder of steward-written YAML/JSON/CSV descriptions, including the documented example."""

from __future__ import annotations

import re
from pathlib import Path

from catalog.harvest import HarvestService
from catalog.store import Store

README = Path(__file__).resolve().parents[2] / "harvesters" / "README_local_format.md"


def test_the_documented_example_and_a_csv_row_harvest_bilingually(
    service: HarvestService, store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "descriptions"
    folder.mkdir()
    example = re.search(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert example is not None
    (folder / "lung-ct.yaml").write_text(example.group(1), encoding="utf-8")
    (folder / "more.csv").write_text(
        "id,title_zh,title_en,keywords_en,language\nbreast-mg,乳房攝影資料集,Mammography set,breast; MG,ZHO;ENG\n",
        encoding="utf-8",
    )
    (folder / "broken.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    info = service.add_source("local", str(folder), name="stewards")
    run = service.run("stewards")
    assert (run.added, run.failed) == (2, 1)
    lung = store.get(store.derive_guid(info.guid, "ntu-lung-ct")).dataset
    assert lung.title["zh-Hant"] == "肺部電腦斷層影像資料集" and lung.imaging is not None
    breast = store.get(store.derive_guid(info.guid, "breast-mg")).dataset
    assert breast.title == {"zh-Hant": "乳房攝影資料集", "en": "Mammography set"}
    assert breast.keywords == {"en": ["breast", "MG"]} and breast.language == ["ZHO", "ENG"]
    (folder / "broken.yaml").unlink()
    (folder / "more.csv").unlink()
    later = service.run("stewards")
    assert (later.withdrawn, later.unchanged) == (1, 1)

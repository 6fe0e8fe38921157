"""The pages' catalogues and built assets, without a browser."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from web.assets import Assets, AssetsNotBuilt, accepts_gzip
from web.i18n import CATALOGUE_DIR, Catalogues

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"
SCRIPTS = Path(__file__).resolve().parents[2] / "web" / "src"


def test_every_language_translates_every_english_message_with_the_same_placeholders() -> None:
    english = json.loads((CATALOGUE_DIR / "en.json").read_text())
    for path in CATALOGUE_DIR.glob("*.json"):
        other = json.loads(path.read_text())
        assert set(other) == set(english), f"{path.name} differs from en.json in {set(other) ^ set(english)}"
        for key, text in other.items():
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), (path.name, key)


def test_every_message_key_the_templates_and_scripts_use_is_in_the_catalogue() -> None:
    english = json.loads((CATALOGUE_DIR / "en.json").read_text())
    used = set()
    for template in TEMPLATES.rglob("*.html"):
        used |= set(re.findall(r"""\bt\(["']([a-z_.A-Z]+)["']""", template.read_text()))
    for script in SCRIPTS.rglob("*.js"):
        used |= set(re.findall(r"""\bt\(["']([a-z_.A-Z]+)["']""", script.read_text()))
    assert used, "the scan found the t(...) calls"
    assert used - set(english) == set()


@pytest.mark.parametrize(
    ("locale", "language"),
    [("es", "es"), ("es-419", "es"), ("es_MX", "es"), ("ES-es", "es"), ("de-DE", "en"), ("", "en"), ("<b>", "en")],
)
def test_a_launch_locale_picks_its_language_or_english(locale: str, language: str) -> None:
    assert Catalogues.load().for_locale(locale).language == language


def test_a_page_before_any_launch_speaks_the_browsers_preferred_language_we_have() -> None:
    catalogues = Catalogues.load()
    assert catalogues.for_accept_language("de-DE,de;q=0.9,es;q=0.8,en;q=0.5").language == "es"
    assert catalogues.for_accept_language("fr;q=0.9, en;q=0.2").language == "en"
    assert catalogues.for_accept_language(None).language == "en"


def test_placeholders_are_filled_and_a_missing_key_shows_itself() -> None:
    spanish = Catalogues.load().get("es")
    assert spanish.t("done.renamed", title="Semana 1") == "Renombrado como «Semana 1»."
    assert spanish.t("no.such.key") == "no.such.key"


def test_the_built_assets_are_named_by_their_content_and_the_server_serves_only_those(tmp_path: Path) -> None:
    with pytest.raises(AssetsNotBuilt, match="make web"):
        Assets.load(tmp_path)
    assets = Assets.load()
    url = assets.url("tool.js")
    assert re.fullmatch(r"/static/tool-[A-Z0-9]{8}\.js", url)
    assert url.removeprefix("/static/") in assets.files
    with pytest.raises(AssetsNotBuilt):
        assets.url("nothing.js")


def test_gzip_is_sent_only_to_browsers_that_accept_it() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert not accepts_gzip("br")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip(None)


def test_the_uploader_and_the_player_are_chunks_of_their_own_that_the_launch_script_does_not_carry() -> None:
    assets = Assets.load()
    launch = assets.files[assets.entries["tool.js"]].body
    player = assets.files[assets.entries["player.js"]].body
    upload = assets.files[assets.entries["upload.js"]].body
    assert b"hls.js config" in player, "hls.js is in the player's chunk"
    assert b"uppy" in upload.lower(), "Uppy is in the uploader's chunk"
    assert b"uppy" not in launch.lower() and b"hls.js config" not in launch
    assert len(launch) < len(upload) < len(player), "the launch script is smaller than either chunk it may load later"
    assert assets.entries["player.js"].removesuffix(".js") in launch.decode(), "fetched by import(), by name"


def test_only_files_the_build_lists_as_its_outputs_are_served(tmp_path: Path) -> None:
    (tmp_path / "tool-AAAA1111.js").write_text("import('./player-BBBB2222.js')")
    (tmp_path / "player-BBBB2222.js").write_text("export const Player = 1;" * 40)
    (tmp_path / "left-over-CCCC3333.js").write_text("an older build's file, or anything else put here")
    manifest = {"entries": {"tool.js": "tool-AAAA1111.js"}, "files": ["player-BBBB2222.js", "tool-AAAA1111.js"]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assets = Assets.load(tmp_path)
    assert set(assets.files) == {"tool-AAAA1111.js", "player-BBBB2222.js"}
    assert (
        assets.files["player-BBBB2222.js"].gzipped is not None
        and assets.files["player-BBBB2222.js"].content_type == "text/javascript"
    )

    (tmp_path / "player-BBBB2222.js").unlink()
    with pytest.raises(AssetsNotBuilt, match=r"player-BBBB2222\.js"):
        Assets.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"tool.js": "tool-AAAA1111.js"}))
    with pytest.raises(AssetsNotBuilt, match="older build"):
        Assets.load(tmp_path)

"""The dataset cache: what `grader data status` reports, and the --cache option."""

import json

from grader import data
from grader import cli
from grader.cli import main


def test_checksums_are_read_from_the_manifest(tmp_path):
    manifest = {"source": {"url": "https://example.org/x.tar.gz", "md5": "7c2ac02c03563afcf9b574c7e56c153a"},
                "files": {"a.txt": "ab" * 32}, "counts": {"train": 3}}
    (tmp_path / "MANIFEST.json").write_text(json.dumps(manifest))
    assert data.checksums(tmp_path) == "md5 7c2ac02c0356…; a.txt abababababab…"
    assert data.checksums(tmp_path / "nowhere") == ""


def test_status_lists_a_staged_variant_in_the_chosen_cache(tmp_path, capsys, monkeypatch):
    # --cache sets $GRADER_CACHE for the process: setenv first, so the test's teardown takes it back for the others.
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "not-this-one"))
    monkeypatch.setattr(cli.console, "width", 200)
    folder = tmp_path / "imdb" / "quick"
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("ok\n")
    (folder / "MANIFEST.json").write_text(json.dumps({"md5": "0" * 32}))
    assert main(["data", "status", "--cache", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "imdb" in out and "md5 000000000000…" in out


def test_a_stand_in_built_by_an_older_recipe_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path))
    builds = []
    recipe = data.Dataset(name="recipe-test", description="", fetch=lambda target: None,
                          synth=lambda target: builds.append(target), synth_version="v2")
    monkeypatch.setitem(data._datasets, recipe.name, recipe)
    folder = data.location(recipe.name, quick=True)
    folder.mkdir(parents=True)
    (folder / ".complete").write_text("ok v1\n")
    assert data.prepare({recipe.name}, quick=True) == []
    assert builds == [folder] and (folder / ".complete").read_text() == "ok v2\n"
    assert data.prepare({recipe.name}, quick=True) == [] and len(builds) == 1

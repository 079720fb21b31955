"""Languages: the gettext catalogues, what is extracted into them, and formats per locale."""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import pickle
import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from sim import i18n
from sim.i18n import KEYWORDS, LANGUAGES, Message, catalogue_path, localize, msg, nmsg

ROOT = Path(__file__).resolve().parent.parent
#: A msgid whose translation may use a value its English does not show (the CSV's bias columns
#: are `bias_<kind>` in English and "<bias name>" elsewhere).
EXTRA_FIELDS = {"bias_{kind}": {"{name}"}}
FIELD = re.compile(r"%\([a-z_]+\)s|\{[a-z_]+(?:![rs])?(?::[^}]*)?\}|%%")


def catalogue(lang: str) -> Catalog:
    with catalogue_path(lang).open("rb") as fh:
        return read_po(fh, locale=lang)


def ids(cat: Catalog) -> set:
    return {m.id for m in cat if m.id}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Catalog:
    """What `pybabel extract -F babel.cfg` finds today, written to and read back from a .pot file."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    cat = Catalog(project="Retention Lab")

    def in_sim(path: str) -> bool:  # walk only the package (not .venv, results, notebooks)
        return os.path.relpath(path, ROOT).split(os.sep)[0] in (".", "sim")

    for filename, lineno, message, comments, context in extract_from_dir(
            ROOT, method_map, options_map, keywords=KEYWORDS, directory_filter=in_sim):
        cat.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    with pot.open("wb") as fh:
        write_po(fh, cat)
    with pot.open("rb") as fh:
        return read_po(fh)


def test_the_chinese_catalogue_is_large_and_complete():
    cat = catalogue("zh_CN")
    messages = [m for m in cat if m.id]
    done = [m for m in messages if not m.fuzzy and (
        all(m.string) if isinstance(m.string, tuple) else bool(m.string))]
    assert len(messages) >= 150
    assert len(done) / len(messages) >= 0.98, len(done) / len(messages)
    assert cat.plural_forms == "nplurals=1; plural=0;"


def test_every_marked_text_is_in_every_catalogue(extracted):
    found = ids(extracted)
    assert len(found) >= 150
    for lang in LANGUAGES:
        have = ids(catalogue(lang))
        assert not found - have, f"{lang}: not in the catalogue (run pybabel update): {found - have}"
        assert not have - found, f"{lang}: no longer in the code (run pybabel update): {have - found}"


def test_translations_keep_the_values_and_markup():
    for m in catalogue("zh_CN"):
        if not m.id or not m.string:
            continue
        english = m.id[-1] if isinstance(m.id, tuple) else m.id
        for chinese in (m.string if isinstance(m.string, tuple) else (m.string,)):
            want = set(FIELD.findall(english)) | EXTRA_FIELDS.get(english, set())
            assert set(FIELD.findall(chinese)) <= want, (english, chinese)
            assert set(FIELD.findall(english)) - {"{kind}"} <= set(FIELD.findall(chinese)), (english, chinese)
            assert re.findall(r"<[^>]+>", english) == re.findall(r"<[^>]+>", chinese), english


def test_the_catalogues_ship_with_the_package():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["sim"]
    for lang in LANGUAGES:
        rel = catalogue_path(lang).relative_to(ROOT / "sim").as_posix()
        assert any(fnmatch.fnmatch(rel, pattern) for pattern in data), rel


def test_a_message_reads_as_english_and_translates_later():
    m = msg("Round {n} is not open yet: the facilitator opens it. Nothing was changed.", n=3)
    assert m == "Round 3 is not open yet: the facilitator opens it. Nothing was changed."
    assert isinstance(m, str) and pickle.loads(pickle.dumps(m)) == m
    assert localize(m, "zh_CN") == "第 3 轮尚未开放：由培训师开放。未做任何更改。"
    assert localize(m, "en") == m
    assert [nmsg("{n} week ago", "{n} weeks ago", n) for n in (1, 2)] == ["1 week ago", "2 weeks ago"]
    assert localize(nmsg("{n} week ago", "{n} weeks ago", 2), "zh_CN") == "2 周前"
    # values that are messages are translated too; other text is left as it is
    nested = msg("You had complaints handled '{what}' in {n} of {total} rounds.",
                 what=msg("loudest first"), n=2, total=4)
    assert nested == "You had complaints handled 'loudest first' in 2 of 4 rounds."
    assert localize(nested, "zh_CN") == "在 4 轮中有 2 轮，你让投诉按“先处理声音最大的客户”处理。"
    assert localize("Ada", "zh_CN") == "Ada" and localize(None, "zh_CN") is None


def test_bias_evidence_and_advice_are_translated_where_shown():
    from sim.biases.evidence import Rounds
    from sim.registry import BIASES

    rounds = Rounds([{"shares": {"acquisition": 0.5, "service": 0.3, "complaints": 0.1, "points": 0.1},
                      "promise": 0.8, "complaint_order": "loudest"}])
    found = BIASES["overpromise"].detect(rounds)
    assert found.evidence == ["Your marketing promise averaged 80 on a scale where 50 is what you deliver."]
    assert isinstance(found.evidence[0], Message)
    assert localize(found.evidence[0], "zh_CN") == "你的营销承诺平均为 80（50 表示与实际交付相符）。"
    assert localize(BIASES["affinity"].label, "zh_CN") == "亲和偏差（偏向自己喜欢的客户）"
    assert localize(BIASES["stereotype"].label, "zh_CN") == "刻板印象"
    assert localize(BIASES["stale_data"].label, "zh_CN") == "过时数据"
    for kind in ("affinity", "salience", "big_account", "stale_data", "stereotype",
                 "acquisition_focus", "overpromise", "points_lockin"):
        advice = BIASES[kind].advice
        assert localize(advice, "zh_CN") != advice and re.search(r"[\u4e00-\u9fff]", localize(advice, "zh_CN"))


def test_remedy_advice_marked_for_the_catalogue_is_the_remedies_own():
    from sim.registry import REMEDIES
    from sim.workshop.words import REMEDY_ADVICE

    assert {k: c.advice for k, c in REMEDIES.items() if c.advice} == REMEDY_ADVICE
    for text in REMEDY_ADVICE.values():
        assert re.search(r"[\u4e00-\u9fff]", localize(text, "zh_CN"))


def test_numbers_and_dates_follow_the_language():
    from sim.workshop.app import fmt_num, fmt_pct

    assert i18n.number(1234567.891, "en", 2) == "1,234,567.89"
    assert i18n.number(1234567.891, "zh_CN") == "1,234,568"
    assert i18n.percent(0.125, "en", 1) == "12.5%"
    assert i18n.percent(0.125, "zh_CN") == "12%"  # half to even, as Babel rounds
    assert i18n.date(dt.date(2026, 12, 3), "en") == "Dec 3, 2026"
    assert i18n.date(dt.date(2026, 12, 3), "zh_CN") == "2026年12月3日"
    assert i18n.datetime("2026-12-03T09:05:00+00:00", "zh_CN").startswith("2026/12/3")
    assert fmt_num(float("nan"), "zh_CN") == "–" and fmt_pct("x", "en") == "–"
    assert fmt_num(-2500.5, "en", 1) == "-2,500.5"


def test_segment_and_metric_names_are_plain_words():
    from sim.workshop.engine import OUTCOME_LABELS
    from sim.workshop.words import POLICY_WORDS, segment_words

    assert segment_words("big_accounts", "en") == "Big accounts"
    assert segment_words("big_accounts", "zh_CN") == "大客户"
    assert segment_words("some_new_segment", "en") == "some new segment"
    assert localize(OUTCOME_LABELS["nps"], "zh_CN") == "净推荐值 (NPS)"
    assert localize(OUTCOME_LABELS["churn_rate"], "zh_CN") == "流失率"
    assert "clv" not in localize(POLICY_WORDS["clv"], "en")


def class_report() -> dict:
    from sim.workshop.engine import OUTCOME_LABELS
    from sim.workshop.profile import labels

    kinds = labels()
    outcomes = dict.fromkeys(OUTCOME_LABELS, 1.0)
    return {"outcome_labels": OUTCOME_LABELS, "labels": kinds, "workshop": {"rounds": 2},
            "trainees": [{"name": "Ada", "rounds_done": 2, "finished": True, "outcomes": outcomes,
                          "profile": dict.fromkeys(kinds, 0.5), "top": "affinity"}],
            "bots": {"affinity": {"label": "Bot with affinity (0.8)", "outcomes": outcomes}}}


def test_csv_headers_speak_the_language():
    import csv
    import io

    from sim.workshop.app import class_csv
    from sim.workshop.engine import bot_names

    report = class_report()
    report["bots"]["affinity"]["label"] = bot_names()["affinity"]
    english = list(csv.reader(io.StringIO(class_csv(report, "en"))))
    assert english[0][:5] == ["who", "kind", "rounds_done", "finished", "churn_rate"]
    assert "bias_affinity" in english[0] and english[0][-1] == "top_bias"
    assert english[2][:2] == ["Bot with affinity (0.8)", "bot"]
    chinese = list(csv.reader(io.StringIO(class_csv(report, "zh_CN"))))
    assert chinese[0][:5] == ["名称", "类型", "已完成轮数", "已完成", "流失率"]
    assert "偏差得分：亲和偏差" in chinese[0] and chinese[0][-1] == "最明显的偏差"
    assert chinese[1][:2] == ["Ada", "学员"] and chinese[1][-1] == "affinity"
    assert chinese[2][:2] == ["带有亲和偏差的机器人（0.8）", "机器人"]
    assert not [h for h in chinese[0] if re.search(r"[a-z]{3,}", h)], chinese[0]


def test_the_store_adds_the_language_column_to_an_older_database(tmp_path):
    import sqlite3

    from sim.workshop.store import Store

    db = tmp_path / "old.sqlite"
    store = Store(db)
    row = store.add_workshop("Old class", "default", "{}", 2, 1)
    with sqlite3.connect(db) as con:
        con.execute("ALTER TABLE workshops DROP COLUMN language")
    assert Store(db).workshop(row.id).language == "en"
    Store(db).set_language(row.id, "zh_CN")
    assert Store(db).workshop(row.id).language == "zh_CN"


def test_a_workshop_speaks_a_language_the_workshop_knows(tmp_path):
    from sim.workshop.engine import WorkshopEngine

    eng = WorkshopEngine(tmp_path / "w.sqlite")
    ws = eng.create_workshop("default", rounds=2, seed=1, language="zh_CN")
    assert eng.workshop(ws.id).language == "zh_CN"
    assert eng.set_language(ws.id, "en").language == "en"
    with pytest.raises(ValueError, match="language"):
        eng.create_workshop("default", rounds=2, seed=1, language="fr")
    with pytest.raises(ValueError, match="language"):
        eng.set_language(ws.id, "de")


def test_serve_refuses_a_language_the_workshop_does_not_speak(tmp_path):
    from typer.testing import CliRunner

    from sim.workshop.cli import app

    res = CliRunner().invoke(app, ["serve", "--language", "fr", "--db", str(tmp_path / "w.sqlite")])
    assert res.exit_code == 2 and "zh_CN" in res.output
    assert not (tmp_path / "w.sqlite").exists()

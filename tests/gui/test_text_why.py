"""The Text tab's "Why" option: after Classify (or Zero-shot), the text's words shaded by how much they
pushed the top label, with a trust badge from the convergence delta."""

from __future__ import annotations

import pytest

import explain_support as es
from playground.core import models
from playground.ui.context import AppContext


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory):
    return es.sentiment_classifier(tmp_path_factory.mktemp("why") / "reviews")[0]


def build(qtbot, worker, settings, module):
    models.cache.clear()
    panel = module.build(AppContext(worker, settings, None))
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    return panel


def test_classify_highlights_the_words_with_a_trust_badge(qtbot, worker, settings, sentiment):
    from playground.ui.text_panels import classify

    panel = build(qtbot, worker, settings, classify)
    panel.picker.set_model(sentiment)
    panel.input.setPlainText("The meal was awful, honestly.")
    assert not panel.why_view.isVisible()
    panel.why.check.setChecked(True)
    assert panel.why_view.isVisible()
    panel.run()
    qtbot.waitUntil(lambda: panel.why_view.explanation is not None, timeout=120_000)
    why = panel.why_view
    assert why.explanation.label == "negative" == panel.bars.rows()[0][0]
    assert why.title.text().startswith("Why 'negative'") and "most of all 'awful'" in why.title.text()
    assert why.badge.text().startswith("trust: good (delta ")
    html = why.words.text()
    assert ">awful</span>" in html and "background-color" in html
    # unchecked: the words go; checked again: the last result is explained again
    panel.why.check.setChecked(False)
    assert why.explanation is None and not why.isVisible()
    panel.why.check.setChecked(True)
    qtbot.waitUntil(lambda: why.explanation is not None, timeout=60_000)
    panel.stop()


def test_zero_shot_explains_its_best_label(qtbot, worker, settings):
    from playground.ui.text_panels import zero_shot

    panel = build(qtbot, worker, settings, zero_shot)
    panel.labels.setText("cooking, astronomy")
    panel.input.setPlainText("Stir the onions into the hot pan with butter.")
    panel.why.check.setChecked(True)
    panel.run()
    qtbot.waitUntil(lambda: panel.why_view.explanation is not None, timeout=120_000)
    assert panel.why_view.explanation.label == "cooking" and "trust: " in panel.why_view.badge.text()
    panel.stop()


def test_highlight_html_escapes_and_shades_by_sign():
    from playground.core.explain.text import TokenScore
    from playground.ui.widgets.text_attributions import highlight_html

    text = "a <b> & c"
    html = highlight_html(text, [TokenScore("<b>", 2.0, 2, 5), TokenScore("c", -1.0, 8, 9)])
    assert "&lt;b&gt;" in html and "&amp;" in html and "<b>" not in html
    assert html.count("<span") == 2 and "#" in html

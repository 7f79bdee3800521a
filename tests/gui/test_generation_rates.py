"""The Generate panel names both rates: the live figure (generation alone) while tokens stream, and
at the end generation alone and with the prompt's processing (issue 17's review fix)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_generation_panel import panel, tiny_dir  # noqa: F401 (fixtures)


def test_final_text_names_both_rates(qtbot, panel):  # noqa: F811
    panel.input.setPlainText("hello there")
    panel.max_tokens.setValue(30)
    panel.temperature.setValue(0.0)
    panel.run()
    with qtbot.waitSignal(panel.result_ready, timeout=60_000) as blocker:
        pass
    result = blocker.args[0]
    text = panel.stats.text()
    assert f"{result.decode_tokens_per_s:.1f} tokens/s generating" in text
    assert f"{result.overall_tokens_per_s:.1f} tokens/s with the prompt" in text
    assert result.decode_tokens_per_s > 0 and result.overall_tokens_per_s > 0
    qtbot.waitUntil(lambda: panel.run_button.isEnabled(), timeout=5000)

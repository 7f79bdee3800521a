"""No text is cut: every tab and panel, at the default window size and at the minimum one.

The walk shows each tab, each Text panel, each Image mode, each Train job (and an evaluation
with its table and confusion matrix), the Speech tab with its sound panel, and states with the
longer texts use brings (a finished generation's figures, a pair that needs a Hub model, a
measured real-time factor, an autosave path, a laptop's microphone names), with a running job's
row, a GPU's name and a status message in the status bar. For every visible label, button, combo
box (its current text and each entry of its popup), table header section and cell, tab and status
message it compares the width the text needs (QFontMetrics, plus the style's margins) with the
room the widget has. A wrapped label must get its lines (and not be squeezed a word a line), a
text-bearing widget must not reach past its parent, a panel must not scroll sideways, and an
elided text must be whole in its tooltip.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton, QAbstractScrollArea, QApplication, QCheckBox, QComboBox, QGroupBox, QHeaderView, QLabel,
    QPushButton, QRadioButton, QScrollArea, QSizeGrip, QStatusBar, QStyle, QStyleOptionButton, QStyleOptionComboBox,
    QTableWidget, QTabBar, QToolButton, QWidget,
)

SLACK = 1  # px: rounding in the style's own arithmetic

# The status bar's texts a first hour meets: the bundled model's first-use step (a running job's row)
# and a message that names a file.
PREPARING = "Preparing the bundled SmolLM2 (first use only: dequantizing the GGUF file, about 20 s)..."
STATUS_MESSAGE = "Opened 3 files in the Image tab; not found: holiday-photos-2024.jpg."
DEVICE = "CUDA: NVIDIA GeForce RTX 4090 Laptop GPU (bfloat16, 15.2 GB free)"  # as MainWindow words a report


@dataclass
class Cut:
    where: str
    widget: str
    text: str
    need: int
    room: int

    def __str__(self) -> str:
        return f"{self.where}: {self.widget} {self.text!r} needs {self.need} px, has {self.room}"


def _name(w: QWidget) -> str:
    return f"{type(w).__name__}({w.objectName() or w.accessibleName() or ''})"


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _text_width(fm: QFontMetrics, text: str) -> int:
    return max((fm.horizontalAdvance(line) for line in text.split("\n")), default=0)


def _rich_width(label: QLabel) -> int:
    doc = QTextDocument()
    doc.setDefaultFont(label.font())
    doc.setDocumentMargin(0)
    doc.setHtml(label.text())
    return int(doc.idealWidth() + 0.999)


def _is_rich(label: QLabel) -> bool:
    fmt = label.textFormat()
    looks_rich = "<" in label.text() and ">" in label.text()  # Qt.mightBeRichText's cue, roughly
    return fmt == Qt.TextFormat.RichText or (fmt == Qt.TextFormat.AutoText and looks_rich)


def _label_cuts(label: QLabel) -> list[tuple[str, int, int]]:
    text = label.text()
    if not text or label.pixmap() is not None and not label.pixmap().isNull():
        return []
    room = label.contentsRect().width() - 2 * label.margin() - max(0, label.indent())
    if label.wordWrap():
        # A wrapped label is cut when the layout gives it fewer lines than its text needs.
        need_h = label.heightForWidth(label.width())
        if need_h > label.height() + SLACK:
            return [(text, need_h, label.height())]
        # ... and unreadable when squeezed into a column of a word or two a line.
        one_line = _rich_width(label) if _is_rich(label) else _text_width(label.fontMetrics(), text)
        lines = need_h // max(1, label.fontMetrics().lineSpacing())
        if lines > 3 and room * 5 < one_line:
            return [(f"squeezed into {lines} lines: {text}", one_line, room)]
        return []
    need = _rich_width(label) if _is_rich(label) else _text_width(label.fontMetrics(), text)
    if need > room + SLACK:
        return [(text, need, room)]
    if "\u2026" in text and not all(part in label.toolTip() for part in text.split("\u2026")):
        return [(f"elided without its full text in a tooltip: {text}", need, room)]
    return []


def _button_cuts(b: QAbstractButton) -> list[tuple[str, int, int]]:
    text = _plain(b.text())
    if not text:
        return []
    style, fm = b.style(), b.fontMetrics()
    need = _text_width(fm, text)
    if isinstance(b, QPushButton | QCheckBox | QRadioButton):
        opt = QStyleOptionButton()
        opt.initFrom(b)
        opt.text = b.text()
        opt.icon = b.icon()
        opt.iconSize = b.iconSize()
        element = {QCheckBox: QStyle.SubElement.SE_CheckBoxContents,
                   QRadioButton: QStyle.SubElement.SE_RadioButtonContents}.get(type(b),
                                                                              QStyle.SubElement.SE_PushButtonContents)
        room = style.subElementRect(element, opt, b).width()
        if isinstance(b, QPushButton):  # its size hint keeps the button margin (both sides) around the text
            room -= style.pixelMetric(QStyle.PixelMetric.PM_ButtonMargin, opt, b)
            if not b.icon().isNull():
                room -= b.iconSize().width() + 4
    elif isinstance(b, QToolButton):
        # QToolButton's size hint is its text (and icon) plus the style's margins, with no floor.
        need, room = b.sizeHint().width(), b.width()
    else:
        room = b.width()
    return [(text, need, room)] if need > room + SLACK else []


def _combo_cuts(combo: QComboBox) -> list[tuple[str, int, int]]:
    cuts = []
    fm = combo.fontMetrics()
    text = combo.currentText()
    if text:
        if combo.isEditable():
            line = combo.lineEdit()
            room = line.width() - 2 * 2 - line.textMargins().left() - line.textMargins().right()
            shown = line.shown_text() if callable(getattr(line, "shown_text", None)) else text
            if shown != text:  # elided while not edited: the full name must be in its tooltip
                if line.toolTip() != text:
                    cuts.append((f"elided without its full text in a tooltip: {shown}", 0, room))
                text = shown
        else:
            opt = QStyleOptionComboBox()
            opt.initFrom(combo)
            opt.editable = False
            opt.currentText = text
            opt.currentIcon = combo.itemIcon(combo.currentIndex())
            room = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                                QStyle.SubControl.SC_ComboBoxEditField, combo).width() - 4
            if not opt.currentIcon.isNull():
                room -= combo.iconSize().width() + 4
        need = fm.horizontalAdvance(text)
        if need > room + SLACK:
            cuts.append((text, need, room))
    cuts += _popup_cuts(combo)
    return cuts


def _popup_cuts(combo: QComboBox) -> list[tuple[str, int, int]]:
    """Open the popup and compare each entry's delegate width with the popup list's width."""
    if combo.count() == 0:
        return []
    combo.showPopup()
    QApplication.processEvents()
    view = combo.view()
    try:
        room = view.viewport().width()
        cuts = []
        menu = combo.itemDelegate().metaObject().className() == "QComboMenuDelegate"
        fm = view.fontMetrics()
        # The room a delegate's text gets: Fusion's menu item (a non-editable combo's popup) keeps 7 px
        # on the left and 15 + 1 on the right; QItemDelegate (an editable one's) the focus-frame margins.
        style = view.style()
        pad = 22 if menu else 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1)
        for row in range(combo.count()):
            icon = combo.itemIcon(row)
            need = fm.horizontalAdvance(combo.itemText(row)) + pad + (combo.iconSize().width() + 4
                                                                      if not icon.isNull() else 0)
            if need > room + SLACK:
                cuts.append((f"popup entry {combo.itemText(row)}", need, room))
        return cuts
    finally:
        combo.hidePopup()
        QApplication.processEvents()


def _header_cuts(header: QHeaderView) -> list[tuple[str, int, int]]:
    cuts = []
    model = header.model()
    if model is None:
        return cuts
    style, fm = header.style(), header.fontMetrics()
    margin = style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    orientation = header.orientation()
    horizontal = orientation == Qt.Orientation.Horizontal
    for i in range(header.count()):
        if header.isSectionHidden(i):
            continue
        text = str(model.headerData(i, orientation, Qt.ItemDataRole.DisplayRole) or "")
        if not text:
            continue
        if horizontal:
            need, room = fm.horizontalAdvance(text) + 2 * margin, header.sectionSize(i)
        else:
            need, room = fm.height(), header.sectionSize(i)
        if need > room + SLACK:
            cuts.append((f"header {text}", need, room))
    if horizontal:
        # Every column in view: a table cut at its right edge hides whole columns (the evaluation's Support).
        length, room = header.length(), header.viewport().width() if header.viewport() else header.width()
        if length > room + SLACK and not header.stretchLastSection():
            hidden = [str(model.headerData(i, orientation) or i) for i in range(header.count())
                      if header.sectionViewportPosition(i) + header.sectionSize(i) > room + SLACK]
            cuts.append((f"columns {', '.join(hidden)} out of view", length, room))
    return cuts


def _table_cuts(table: QTableWidget) -> list[tuple[str, int, int]]:
    """Cells whose text is wider than their column (and no tooltip holds it), and rows out of view."""
    cuts = []
    fm = table.fontMetrics()
    margin = 2 * (table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1)
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            item = table.item(r, c)
            if item is None or not item.text() or item.text() in item.toolTip():
                continue
            need, room = fm.horizontalAdvance(item.text()) + margin, table.columnWidth(c)
            if need > room + SLACK:
                cuts.append((f"cell {item.text()}", need, room))
    rows = table.verticalHeader().length()
    if 0 < table.rowCount() <= 12 and rows > table.viewport().height() + SLACK:
        cuts.append((f"{table.rowCount()} rows, some out of view", rows, table.viewport().height()))
    return cuts


def _tab_cuts(bar: QTabBar) -> list[tuple[str, int, int]]:
    cuts = []
    space = bar.style().pixelMetric(QStyle.PixelMetric.PM_TabBarTabHSpace, None, bar)
    for i in range(bar.count()):
        text = _plain(bar.tabText(i))
        need, room = bar.fontMetrics().horizontalAdvance(text) + space // 2, bar.tabRect(i).width()
        if need > room + SLACK:
            cuts.append((f"tab {text}", need, room))
    return cuts


def _group_cuts(box: QGroupBox) -> list[tuple[str, int, int]]:
    title = _plain(box.title())
    need = box.fontMetrics().horizontalAdvance(title) + 16
    return [(f"group {title}", need, box.width())] if title and need > box.width() + SLACK else []


def _confusion_cuts(matrix) -> list[tuple[str, int, int]]:
    n = len(getattr(matrix, "labels", []))
    if not n:
        return []
    last = matrix.cell_rect(n - 1, n - 1)
    if matrix.rect().contains(last):
        return []
    return [("confusion matrix cells", max(last.right(), last.bottom()) + 1,
             min(matrix.width(), matrix.height()))]


def _clipped_by_parent(w: QWidget) -> tuple[int, int] | None:
    """How far a widget reaches past an ancestor that is not a scroll area's viewport (scrolling is no cut)."""
    rect = QRect(0, 0, w.width(), w.height())
    child, parent = w, w.parentWidget()
    while parent is not None and not child.isWindow():
        rect = rect.translated(child.pos())
        if isinstance(parent.parentWidget(), QAbstractScrollArea) and parent is parent.parentWidget().viewport():
            return None
        room = parent.rect()
        over_x = rect.right() - room.right()
        over_y = rect.bottom() - room.bottom()
        if over_x > SLACK or over_y > SLACK:
            return (rect.right() + 1, room.right() + 1) if over_x > SLACK else (rect.bottom() + 1, room.bottom() + 1)
        child, parent = parent, parent.parentWidget()
    return None


def _scroll_cuts(area: QScrollArea) -> list[tuple[str, int, int]]:
    """A panel that scrolls sideways hides the end of every line (up and down is how panels scroll)."""
    inner = area.widget()
    if inner is None or not inner.isVisible():
        return []
    need, room = inner.width(), area.viewport().width()
    return [(f"scrolls sideways ({_name(inner)})", need, room)] if need > room + SLACK else []


def _is_text_widget(w: QWidget) -> bool:
    return isinstance(w, QLabel | QAbstractButton | QComboBox | QHeaderView | QTabBar | QGroupBox)


def _status_message_cuts(window) -> list[tuple[str, int, int]]:
    """The message as QStatusBar draws it: from x = 6 up to 2 px before the first visible permanent widget."""
    bar = window.statusBar()
    shown, full = QStatusBar.currentMessage(bar), bar.currentMessage()
    if not shown:
        return []
    lefts = [c.x() for c in bar.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
             if c.isVisible() and not isinstance(c, QSizeGrip) and c.x() > 6]
    room = min([bar.width() - 12, *(x - 2 for x in lefts)]) - 6
    need = bar.fontMetrics().horizontalAdvance(shown)
    cuts = [(f"status message {shown}", need, room)] if need > room + SLACK else []
    if shown != full and bar.toolTip() != full:
        cuts.append((f"status message elided without its full text in a tooltip: {shown}", need, room))
    return cuts


def find_cuts(window, where: str) -> list[Cut]:
    from playground.ui.widgets.confusion_matrix import ConfusionMatrix

    cuts: list[Cut] = []
    for w in [window, *window.findChildren(QWidget)]:
        if not w.isVisible() or w.window() is not window or w.width() <= 0:
            continue
        found: list[tuple[str, int, int]] = []
        if isinstance(w, QLabel):
            found = _label_cuts(w)
        elif isinstance(w, QAbstractButton):
            found = _button_cuts(w)
        elif isinstance(w, QComboBox):
            found = _combo_cuts(w)
        elif isinstance(w, QHeaderView):
            found = _header_cuts(w)
        elif isinstance(w, QTabBar):
            found = _tab_cuts(w)
        elif isinstance(w, QGroupBox):
            found = _group_cuts(w)
        elif isinstance(w, ConfusionMatrix):
            found = _confusion_cuts(w)
        if isinstance(w, QTableWidget):
            found += _table_cuts(w)
        if isinstance(w, QScrollArea):
            found += _scroll_cuts(w)
        if (_is_text_widget(w) or isinstance(w, ConfusionMatrix | QTableWidget)) and not found:
            over = _clipped_by_parent(w)
            text = getattr(w, "text", lambda: "")() if isinstance(w, QLabel | QAbstractButton) else ""
            if over is not None and (text or not isinstance(w, QLabel | QAbstractButton)):
                found = [(f"reaches past its parent {text}".rstrip(), *over)]
        cuts += [Cut(where, _name(w), text, need, room) for text, need, room in found]
    if callable(getattr(window, "statusBar", None)):
        cuts += [Cut(where, "QStatusBar", t, n, r) for t, n, r in _status_message_cuts(window)]
    return cuts


# -- the walk ------------------------------------------------------------------------------------


class FakeHandle(QObject):
    """What the status bar's job row reads of a running job."""

    progress = Signal(object, str)

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.is_finished = False

    def cancel(self) -> None:
        pass


def _evaluation():
    from playground.core.evaluate import Evaluation, Example

    labels = ["positive", "negative", "neutral", "mixed feelings"]
    examples = [Example(f"review number {k}", k % 4, (k * 7 // 5) % 4, 0.5 + (k % 5) / 10) for k in range(480)]
    return Evaluation("sentiment-distilbert", "text", "/data/reviews.csv", labels, examples, split="validation")


def _settle(qtbot, window, minimum: bool) -> None:
    for _ in range(3):
        QApplication.processEvents()
        if minimum:
            window.resize(window.minimumSizeHint().expandedTo(window.minimumSize()))
        QApplication.processEvents()
    qtbot.wait(20)


def _states(window):
    """Yield (name, set_up) for every tab and panel; set_up shows it."""
    text = window.page(0)
    for title in text.titles():
        yield f"Text/{title}", lambda t=title: (window.tabs.setCurrentIndex(0), text.select(t))

    def generated():
        """A finished generation's stats line, as the panel words it."""
        from playground.core.generation import GenerationResult

        window.tabs.setCurrentIndex(0)
        panel = text.select("Generate")
        panel._request = {"chat": False, "prompt": "Once upon a time"}
        panel.show_result(GenerationResult(
            text=" there was a cat.", new_tokens=128, tokens_per_s=10.4, time_to_first_token=0.31, seconds=12.3,
            stopped=False, finish_reason="length", seed=1234567, chat=False, has_chat_template=True,
            model_id="bundled/smollm2-135m-instruct", prompt_tokens=5, decode_tokens_per_s=11.2))

    def french():
        """A pair that needs a Hub model: the note says which."""
        window.tabs.setCurrentIndex(0)
        panel = text.select("Translate")
        panel.target.setCurrentIndex(panel.target.findData("fr"))

    yield "Text/Generate finished", generated
    yield "Text/Translate en-fr", french
    image = window.page(1)
    from playground.ui.image_tab import MODES

    for key, label in MODES:
        yield f"Image/{label}", lambda k=key: (window.tabs.setCurrentIndex(1), image.set_mode(k))

    def classifiers_compared():
        """Compare on in Classify with two models: columns with bars, times, Grad-CAM notes and the
        disagreement line, worded as the tab words them (no model runs: there is no image)."""
        from playground.core.image import ImageResult, Prediction
        from playground.ui.image_compare import agreement

        window.tabs.setCurrentIndex(1)
        image.set_mode("classify")
        image.compare.switch.setChecked(True)
        models = ["bundled/efficientnet-lite0", "/home/someone/models/cats-vs-dogs-finetuned"]
        image.compare.pickers[0].set_model(models[1])
        image._on_compare_begun(models)
        labels = [["tabby", "Egyptian cat", "tiger cat", "lynx", "Persian cat"],
                  ["Egyptian cat", "tabby", "tiger cat", "Siamese cat", "lynx"]]
        for i, names in enumerate(labels):
            preds = [Prediction(n, 0.44 - 0.08 * k, k) for k, n in enumerate(names)]
            image._on_compare_result(i, ImageResult("/photos/cat.jpg", preds), 0.05, 1.32)
            image.compare_view.set_cam(i, None, f"Red: where it sees '{names[0]}'.")
        image.compare_view.set_agreement(*agreement([image.compare.display_name(m) for m in models],
                                                    [names[0] for names in labels]))

    def detectors_compared():
        """Compare on in Objects: the legend of two detectors, with the note Faces leaves there."""
        from playground.core import detection

        window.tabs.setCurrentIndex(1)
        image.set_mode("objects")
        objects = image.mode_page("objects")
        objects.start_compare("Faces has one detector offline (MTCNN), so Compare overlays two object "
                              "detectors on the same image instead.")
        found = [detection.DetectedObject("cup", 0.91, (10, 10, 200, 200)),
                 detection.DetectedObject("dining table", 0.42, (0, 150, 600, 400))]
        objects.comparison.models = [detection.YOLO_ID, "/home/someone/models/detr-resnet-50-finetuned"]
        objects._compare_state = {0: detection.ObjectResult("/photos/coffee.png", detection.YOLO_ID, 600, 400,
                                                            found, seconds=0.06),
                                  1: detection.ObjectResult("/photos/coffee.png", "detr", 600, 400, found[:1],
                                                            seconds=1.84)}
        objects._update_layers()

    yield "Image/Classify compare", classifiers_compared
    yield "Image/Objects compare", detectors_compared
    yield "Speech", lambda: window.tabs.setCurrentIndex(2)

    def heard():
        """The Speech tab's lines after a live session and a file: real texts, as its controller words them."""
        from playground.core.speech.live import LiveStatus
        from playground.core.speech.languages import MULTILINGUAL_MODEL
        from playground.core.speech.session import language_text, realtime_text

        window.tabs.setCurrentIndex(2)
        speech = window.page(2)
        c = speech.controller
        c.model_rtf = {MULTILINGUAL_MODEL: 1.42, "bundled/whisper-tiny.en": 0.31}
        speech.picker.select(MULTILINGUAL_MODEL)
        c.model_rtf_changed.emit(c.rtf_summary(MULTILINGUAL_MODEL))
        c.realtime_changed.emit(realtime_text(LiveStatus(83.0, 3.4, 1.42, True), MULTILINGUAL_MODEL))
        c.language_changed.emit(language_text("pt", 0.93))
        c.autosaved.emit("/home/someone/.local/share/model-playground/transcripts/2026-12-06 17-50-12 live.json")

    yield "Speech/heard", heard

    def microphones():
        """A laptop's inputs, named as sounddevice names them."""
        from playground.core.speech.input_devices import InputDevice
        from playground.core.speech.session import FILE_SOURCE, DeviceChoice

        window.tabs.setCurrentIndex(2)
        mics = [InputDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", 2, 48000.0, "ALSA", True),
                InputDevice(4, "USB PnP Sound Device: Audio (hw:2,0)", 1, 44100.0, "ALSA", False)]
        choices = [DeviceChoice(m.label, m.index, m.is_default) for m in mics]
        choices.append(DeviceChoice("A file played live (choose when recording)...", FILE_SOURCE))
        window.page(2).controller.devices_changed.emit(choices, "")

    yield "Speech/microphones", microphones

    def compared():
        """A finished comparison of two Whisper models on a file with a reference beside it, as its jobs deliver it."""
        import time

        from playground.core import word_diff
        from playground.core.transcript import Segment, Transcript

        window.tabs.setCurrentIndex(2)
        speech = window.page(2)
        speech.picker.set_model("bundled/whisper-tiny.en")  # (the state before chose base)
        speech.compare.switch.setChecked(True)
        speech.compare.pickers[0].set_model("bundled/whisper-base")
        view, models_ = speech.comparison, speech.compared_models()
        texts = ["Please call me tomorrow morning before the meeting starts. She won't be forget the clock.",
                 "Please call me tomorrow morning before the meeting starts. Shivong and Dheetha met the Kwa Ka."]
        view._prepare("/home/someone/recordings/standup-2026-12-06.wav", models_)
        speech._show_comparison(True)
        for i, text in enumerate(texts):
            view._started[i] = time.perf_counter() - 12.3  # its job began with the load: the 'with loading' line shows
            view._on_result(i, Transcript([Segment(0.0, 7.2, text)], 7.2, models_[i], 9.81))
        view._show_alignment([0, 1], word_diff.compare_transcripts(texts, texts[0] + " Thursday.",
                                                                    "/home/someone/recordings/standup.txt"))

    yield "Speech/compare", compared
    train = window.page(3)
    for i in range(train.kind_combo.count()):
        yield f"Train/{train.kind_combo.itemData(i)}", lambda i=i: (window.tabs.setCurrentIndex(3),
                                                                  train.kind_combo.setCurrentIndex(i))

    def evaluated():
        window.tabs.setCurrentIndex(3)
        train.kind_combo.setCurrentIndex(1)
        train.evaluation.set_model("/models/sentiment-distilbert", "text-classification")
        train.evaluation._on_evaluated(_evaluation())  # as a finished evaluation job delivers it

    yield "Train/evaluation", evaluated


def walk(qtbot, window, minimum: bool) -> list[Cut]:
    size = "minimum" if minimum else "default"
    handle = FakeHandle("generate text")
    window.jobs_status.add(handle)
    window.jobs_status.row_for(handle).set_progress(None, PREPARING)
    cuts: list[Cut] = []
    for name, set_up in _states(window):
        set_up()
        window.device_label.setText(DEVICE)  # each time: the window's own device report may come in between
        window.statusBar().showMessage(STATUS_MESSAGE)
        _settle(qtbot, window, minimum)
        cuts += find_cuts(window, f"{size} {window.width()}x{window.height()} {name}")
    window.jobs_status.remove(handle)
    return cuts


@pytest.fixture
def roomy_window(main_window, qtbot):
    from playground.app import default_size

    main_window.resize(default_size(None))  # the default 1100 x 750 (offscreen's screen is smaller)
    qtbot.wait(20)
    return main_window


def test_no_text_is_cut_at_the_default_size(roomy_window, qtbot):
    cuts = walk(qtbot, roomy_window, minimum=False)
    assert not cuts, "cut text:\n" + "\n".join(map(str, cuts))


def test_no_text_is_cut_at_the_minimum_size(roomy_window, qtbot):
    cuts = walk(qtbot, roomy_window, minimum=True)
    assert not cuts, "cut text:\n" + "\n".join(map(str, cuts))


def test_the_minimum_window_stays_narrow(roomy_window, qtbot):
    """Fitting the texts must not make the window much wider: it fits a 1024 px laptop with room,
    with a job running and a GPU's long name in the status bar."""
    handle = FakeHandle("generate text")
    roomy_window.jobs_status.add(handle)
    roomy_window.jobs_status.row_for(handle).set_progress(None, PREPARING)
    widest = 0
    for _name_, set_up in _states(roomy_window):
        set_up()
        roomy_window.device_label.setText(DEVICE)
        _settle(qtbot, roomy_window, minimum=True)
        widest = max(widest, roomy_window.minimumSizeHint().width())
    assert widest <= 760


def test_the_checker_sees_a_cut(qtbot):
    """The measures themselves: a label, a button and a popup entry squeezed below their text are found."""
    holder = QWidget()
    qtbot.addWidget(holder)
    label = QLabel("A label much wider than its room", holder)
    label.setGeometry(0, 0, 60, 20)
    button = QPushButton("Evaluate on data...", holder)
    button.setGeometry(0, 30, 50, 30)
    combo = QComboBox(holder)
    combo.setEditable(True)
    combo.addItem("EfficientNet-Lite0 (ImageNet) [bundled, offline] with a long tail")
    combo.setGeometry(0, 70, 90, 26)
    holder.resize(QSize(200, 120))
    holder.show()
    qtbot.waitExposed(holder)
    found = {c.widget.split("(")[0] for c in find_cuts(holder, "probe")}
    assert {"QLabel", "QPushButton", "QComboBox"} <= found
    label.setGeometry(0, 0, label.sizeHint().width(), 20)
    button.setGeometry(0, 30, button.sizeHint().width(), 30)
    assert not [c for c in find_cuts(holder, "probe") if c.widget.startswith(("QLabel", "QPushButton"))]


def test_a_status_message_that_does_not_fit_is_elided_with_its_full_text_kept(main_window, qtbot, caplog):
    import logging

    bar = main_window.statusBar()
    main_window.resize(main_window.minimumSizeHint())
    handle = FakeHandle("generate text")
    main_window.jobs_status.add(handle)
    row = main_window.jobs_status.row_for(handle)
    with caplog.at_level(logging.INFO):
        row.set_progress(None, PREPARING)
        bar.showMessage(STATUS_MESSAGE * 2, 10_000)
    qtbot.waitUntil(lambda: row.label.text() != PREPARING)
    assert row.label.text().endswith("\u2026") and row.label.toolTip() == PREPARING
    shown = QStatusBar.currentMessage(bar)
    assert shown.endswith("\u2026") and bar.fontMetrics().horizontalAdvance(shown) <= bar.message_room()
    assert bar.currentMessage() == STATUS_MESSAGE * 2 and bar.toolTip() == STATUS_MESSAGE * 2
    assert PREPARING in caplog.text and STATUS_MESSAGE in caplog.text
    # Room again (the job ends): the message shows whole, and the tooltip goes.
    main_window.jobs_status.remove(handle)
    bar.showMessage(STATUS_MESSAGE, 10_000)
    main_window.resize(1100, 750)
    qtbot.waitUntil(lambda: QStatusBar.currentMessage(bar) == STATUS_MESSAGE)
    assert bar.toolTip() == ""
    bar.clearMessage()
    assert bar.currentMessage() == ""


def test_a_model_name_longer_than_the_picker_ends_in_an_ellipsis(qtbot):
    from PySide6.QtWidgets import QVBoxLayout

    from playground.ui.widgets.model_picker import ModelPicker

    holder = QWidget()
    qtbot.addWidget(holder)
    picker = ModelPicker(None, "image-classification")
    QVBoxLayout(holder).addWidget(picker)
    holder.resize(260, 60)
    holder.show()
    qtbot.waitExposed(holder)
    line = picker.combo.lineEdit()
    full = picker.combo.currentText()
    assert full and line.shown_text().endswith("\u2026") and line.toolTip() == full
    # The popup fits every entry whole.
    picker.combo.showPopup()
    view = picker.combo.view()
    assert view.width() >= max(view.sizeHintForIndex(view.model().index(r, 0)).width()
                               for r in range(picker.combo.count()))
    picker.combo.hidePopup()
    # Being edited, the field shows the text itself; empty, its long hint is in the tooltip.
    holder.activateWindow()
    qtbot.waitUntil(holder.isActiveWindow)
    line.setFocus()
    qtbot.waitUntil(line.hasFocus)
    assert line.shown_text() == full
    line.clear()
    assert line.toolTip() == line.placeholderText()

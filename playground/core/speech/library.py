"""The transcripts a person keeps (one per recording or file) and the names given to their speakers.

`TranscriptLibrary` is the list the Speech tab shows, over `TranscriptStore`'s files; a disk that
refuses a write is one sentence, never an exception in the middle of a recording.
`SpeakerNames` maps "Speaker 1" to a name for the text still to come: the Speech tab while a
recording runs, `listen --speaker-names` and `transcribe --speaker-names` in the CLI.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from playground.core import transcript
from playground.core.transcript import Segment
from playground.core.transcript_store import StoredTranscript, TranscriptStore

log = logging.getLogger(__name__)


def label(index: int) -> str:
    """The label of the `index`-th speaker found (0: "Speaker 1")."""
    return f"Speaker {index + 1}"


class SpeakerNames:
    """What a session calls its speaker labels ("Speaker 1" -> "Ana"), for the text still to come."""

    def __init__(self, names: Mapping[str, str] | None = None):
        self._names = dict(names or {})

    @classmethod
    def parse(cls, text: str) -> SpeakerNames:
        """"Ana,Bruno" (the CLI's --speaker-names): Speaker 1 is Ana, Speaker 2 Bruno."""
        return cls({label(i): name.strip() for i, name in enumerate(text.split(",")) if name.strip()})

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self._names)

    def of(self, label: str | None) -> str | None:
        return self._names.get(label, label) if label else label

    def rename(self, old: str, new: str) -> None:
        """`old` (a label, or a name given before) is called `new` from now on."""
        for label, name in list(self._names.items()):
            if name == old:
                self._names[label] = new
        if old not in self._names.values() and old not in self._names:
            self._names[old] = new

    def apply(self, segments: list[Segment]) -> list[Segment]:
        """`segments` (and their words) with the names instead of the labels."""
        return transcript.rename_speakers(segments, self._names) if self._names else segments


class TranscriptLibrary:
    """The transcripts kept on disk (one per recording or file), oldest first."""

    def __init__(self, store: TranscriptStore):
        self.store = store
        try:
            self._items = store.list()
        except OSError as exc:
            log.warning("listing the saved transcripts failed: %s", exc)
            self._items = []

    def items(self) -> list[StoredTranscript]:
        return list(self._items)

    def find(self, transcript_id: str) -> StoredTranscript | None:
        return next((t for t in self._items if t.id == transcript_id), None)

    def new(self, name: str, kind: str, source: str) -> StoredTranscript:
        return self.store.new(name, kind, source)

    def add(self, item: StoredTranscript) -> None:
        self._items.append(item)

    def forget(self, transcript_id: str) -> None:
        self._items = [t for t in self._items if t.id != transcript_id]

    def save(self, item: StoredTranscript) -> str:
        """Write `item` (atomically); "" or one sentence saying why it could not be kept."""
        try:
            self.store.save(item)
        except OSError as exc:
            log.warning("saving transcript %s failed: %s", item.id, exc)
            return (f"The transcript could not be saved to {self.store.folder} ({exc.strerror or exc}); "
                    "it is kept in the window: export it elsewhere.")
        return ""

    def delete(self, transcript_id: str) -> None:
        """Remove its file (OSError when the disk refuses); `forget` drops it from the list."""
        self.store.delete(transcript_id)

    def audio_path(self, item: StoredTranscript) -> Path | None:
        """Where a live transcript's audio is kept (None when the store cannot say)."""
        try:
            return self.store.audio_path(item.id)
        except (OSError, ValueError):
            return None

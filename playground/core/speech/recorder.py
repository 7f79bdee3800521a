"""A live session's audio kept on disk as it is heard, so its transcript can be played after a restart.

Written as 16 kHz mono FLAC (16-bit, about 1 MB a minute) into a hidden `.NAME.part` file beside
the target and renamed over it when the session ends: a crash leaves no half file under the
name the transcript points to. A full disk stops the recording of audio, never the session.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from playground.core.audio import SAMPLE_RATE as SR

log = logging.getLogger(__name__)


class AudioRecorder:
    def __init__(self, target: str | os.PathLike[str]):
        import soundfile as sf

        self.target = Path(target)
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.part = self.target.with_name(f".{self.target.name}.part")
        self.error: str | None = None
        self.samples = 0
        self._file = sf.SoundFile(self.part, "w", SR, 1, "PCM_16", format="FLAC")

    def write(self, samples: np.ndarray) -> None:
        if self._file is None or not len(samples):
            return
        try:
            self._file.write(np.clip(np.asarray(samples, np.float32), -1.0, 1.0))
            self.samples += len(samples)
        except Exception as exc:  # noqa: BLE001 - libsndfile's errors on a full disk: stop keeping audio
            self.error = f"The recording's audio could not be kept ({exc})."
            log.warning("%s", self.error)
            self._abandon()

    def close(self) -> str | None:
        """Finish the file and put it in place; its path, or None when nothing was kept."""
        if self._file is None:
            return None
        try:
            self._file.close()
            self._file = None
            if not self.samples:
                self.part.unlink(missing_ok=True)
                return None
            os.replace(self.part, self.target)
            return str(self.target)
        except OSError as exc:
            self.error = f"The recording's audio could not be kept ({exc.strerror or exc})."
            log.warning("%s", self.error)
            self._abandon()
            return None

    def _abandon(self) -> None:
        f, self._file = self._file, None
        try:
            if f is not None:
                f.close()
        except Exception:  # noqa: BLE001 - the file is dropped anyway
            log.debug("closing the abandoned recording failed", exc_info=True)
        self.part.unlink(missing_ok=True)

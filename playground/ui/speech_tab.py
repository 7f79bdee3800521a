"""Speech tab (placeholder until its issue lands)."""

from playground.ui.placeholder import placeholder


def build(ctx):
    return placeholder("Speech", [
        "Live microphone transcription with Whisper tiny.en and Silero VAD",
        "Audio files to timed transcripts (TXT, SRT, VTT), waveform and spectrogram",
    ])

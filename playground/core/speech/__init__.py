"""Speech: from audio to who said what, without Qt (the Speech tab and the CLI share all of it).

Capture
    ring_buffer        the RingBuffer live audio goes through (16 kHz mono float32)
    input_devices      PortAudio via `sounddevice`: loading it, the input devices, playback problems
    sources            AudioSource, FileSource (a file played live), MicrophoneSource
    system_audio       what the computer plays: PulseAudio monitors, WASAPI loopback, SystemAudioSource
    recorder           a live session's audio kept on disk as FLAC
Recognition
    languages          SpeechOptions (language, task), the language names, the English-only rule
    recognizers        loading faster-whisper/transformers recognisers and Silero VAD; decoding
    file_transcription files in windows: transcribe_file, transcribe_files
    accuracy           word and character error rates
Live
    live               the live transcriber (VAD, partial and final text, its commit policy), `listen`
Who spoke
    speakers           speaker embeddings, clustering, labels for files and live sessions
The Speech tab without Qt
    library            the transcripts kept on disk, and the names given to speakers (CLI too)
    session            SpeechSession: inputs, live and file jobs, the shown transcript, playback
                       (ui/speech_controller.py adapts it to Qt)

Nothing is imported here: `from playground.core.speech import sources` loads only what it needs.
"""

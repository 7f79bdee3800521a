"""Fine-tune jobs: image classifier, text classifier, character-level GPT, sound classes, LoRA on a language model.

Each job is `fn(ctx, data, out=None, **options)`; it emits the events of
`training.events` and returns a `TrainResult`. Heavy imports happen inside
the jobs, and the package itself imports nothing: the Train tab reads a few of its
modules (data checks, process slots) before its first paint, never the loop or the events.
"""


def job_for(kind: str):
    """The job function for "image", "text", "charlm", "sound" or "lm"."""
    if kind == "image":
        from playground.core.training.image import train_image_classifier

        return train_image_classifier
    if kind == "text":
        from playground.core.training.text import train_text_classifier

        return train_text_classifier
    if kind == "charlm":
        from playground.core.training.charlm import train_charlm

        return train_charlm
    if kind == "sound":
        from playground.core.training.sound import train_sound_classifier

        return train_sound_classifier
    if kind == "lm":
        from playground.core.training.lm import train_lm

        return train_lm
    raise ValueError(f"unknown training kind '{kind}'")

"""Train tab (placeholder until its issue lands)."""

from playground.ui.placeholder import placeholder


def build(ctx):
    return placeholder("Train", [
        "Fine-tune an image or text classifier, or train a character-level GPT",
        "Live loss and accuracy curves, checkpoints, resume",
    ])

"""Text tab (placeholder until its issue lands)."""

from playground.ui.placeholder import placeholder


def build(ctx):
    return placeholder("Text", [
        "Classify, zero-shot labels and semantic search with the bundled MiniLM",
        "Streaming generation with tokens/s, entities, question answering, translation",
        "Tokens and an attention heatmap",
    ])

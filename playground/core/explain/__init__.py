"""Why a model decided: image maps (Grad-CAM, occlusion), word attributions (integrated gradients)
and the moments of a sound clip that set its class (occlusion over time). No Qt.

Each module is a job like the rest of the engine (`ctx` first, typed result back):
- `image.explain(ctx, source, model, class_index)` -> `image.ImageExplanation`
- `text.explain(ctx, text, model, label)` -> `text.TextExplanation`
- `sound.explain(ctx, source, model, label)` -> `sound.SoundExplanation`
"""

"""The library's messages in the app's own words: the command line's flags become the labels of the sidebar's
inputs (a message names `--max-height`; the page names "Maximum height")."""

from __future__ import annotations

LABELS = {  # the longest first where one flag starts another
    "`dragopt simulate`, or `dragopt optimize --backend simulation`": (
        "Compare with simulation, or 'Drag from: Full simulation'"
    ),
    "`dragopt simulate`": "Compare with simulation",
    "--backend simulation": "'Drag from: Full simulation'",
    "--min-thickness-ratio": "'Minimum thickness-to-chord ratio'",
    "--min-thickness": "'Minimum thickness'",
    "--max-length": "'Maximum length'",
    "--max-height": "'Maximum height'",
    "--max-curvature": "the curvature limit",
    "--keep-area": "'Keep the area'",
    "--symmetric": "'Symmetric about the flow axis'",
    "--max-ood": "'Stay near the training shapes'",
    "--incidence free": "'Design variables: shape and incidence'",
    "--chord": "'Chord'",
    "--min-cl": "'Lift: at least'",
    "--cl": "'Lift: held'",
    "--trust-region": "'Trust region'",
    "--optimizer": "'Method'",
    "--steps": "'Steps'",
    "--re": "'Reynolds number'",
}


def in_app_words(message: str) -> str:
    """`message` with every command-line flag replaced by the page's label for it."""
    for flag in sorted(LABELS, key=len, reverse=True):
        message = message.replace(flag, LABELS[flag])
    return message

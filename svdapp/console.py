"""What the console can print: every command's output survives any console encoding.

A Korean Windows console piped to a file encodes as cp949 and an ASCII terminal as ASCII;
neither can print "✓", and Python's default is to raise UnicodeEncodeError — after the
video is written, so a finished run would end in an error. ``plain_fallback`` makes
stdout and stderr print such a character as its plain equivalent ("✓" → "OK",
"—" → "-") and anything else they cannot encode (a file name in another script) as a
``\\u`` escape. Consoles that can print the text (UTF-8) are left exactly as they are.
"""

from __future__ import annotations

import codecs
import sys
from typing import TextIO

HANDLER = "svdapp-plain"
# The symbols svdapp prints, as plain ASCII.
PLAIN = {"✓": "OK", "✗": "X", "⚠": "!", "—": "-", "–": "-", "…": "...", "→": "->", "↔": "<->", "·": "-",
         "×": "x", "≤": "<=", "≥": ">=", "≈": "~", "Δ": "d", "•": "*", "░": ".", "█": "#"}


def _plain(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    text = error.object[error.start:error.end]
    return "".join(PLAIN.get(ch) or ch.encode("ascii", "backslashreplace").decode("ascii") for ch in text), error.end


codecs.register_error(HANDLER, _plain)


def can_print(text: str, stream: TextIO) -> bool:
    """Whether ``stream`` encodes ``text`` as it is."""
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def plain_fallback(*streams: TextIO) -> None:
    """Let stdout and stderr (or ``streams``) print what their encoding lacks as plain text."""
    for stream in streams or (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not can_print("".join(PLAIN), stream):
            reconfigure(errors=HANDLER)

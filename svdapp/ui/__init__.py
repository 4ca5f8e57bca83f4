"""The web app: Gradio Blocks for D1 (environment) → D2 (photo) → Generate → D4 (result, history).

A thin shell over ``jobs.run_request``: every control maps to one GenerationParams field by
name, a click builds one GenerationRequest, and the result (or the SvdAppError's message and
fix) is shown. Nothing here imports torch; the model loads on the first generation.

Sessions are kept apart (other SVD web UIs showed one user's images to another): uploads
and results live in per-session component values and ``gr.State``; cancel events are keyed
by the session. The history gallery shows every result in outputs/ only while the app is
reachable from this computer alone; once it is shared (``--share`` or a non-loopback
``--host``) each session sees only what it made itself, and the token cannot be changed.

Modules: layout (the page's components as one Page), app (build_app: the events, wired part by
part), controls (the form's controls), forms (values ↔ request), environment (D1), generation (a
run: cancel, progress, errors), views (what the page shows, errors in its words), history (the
gallery), api (/generate, /check), theme (the look), server (``svdapp serve``).
"""

from .app import build_app
from .server import serve

__all__ = ["build_app", "serve"]

"""How the web app looks: the Gradio theme, page CSS, the header's title and logo, and the
script that keeps the result video muted."""

from __future__ import annotations

import gradio as gr

TITLE = "svdapp"
TAGLINE = "Turn one product photo into a short, browser-ready product video with Stable Video Diffusion."

CSS = """
.gradio-container { max-width: 1440px !important; margin: 0 auto; }
#svd-header { display: flex; align-items: center; gap: 14px; padding: 6px 2px 2px; }
#svd-header .logo { width: 42px; height: 42px; border-radius: 10px; flex: none;
  background: linear-gradient(135deg, #4f46e5, #0ea5e9); display: grid; place-items: center; }
#svd-header h1 { font-size: 1.45rem; margin: 0; line-height: 1.2; }
#svd-header p { margin: 2px 0 0; opacity: .75; }
#svd-header .version { margin-left: auto; font-size: .8rem; opacity: .55; }
.step-title h3 { margin: 4px 0 0 !important; font-size: 1.02rem !important; }
.step-title h3 .step { display: inline-block; min-width: 2.1em; padding: 1px 6px; margin-right: 6px;
  border-radius: 6px; background: var(--primary-100); color: var(--primary-700); font-size: .8rem; }
#env-checks table { font-size: .88rem; margin: 0; width: 100%; }
#env-checks :is(table, thead, tbody, tr) { border: 0 !important; box-shadow: none !important; }
#env-checks td { vertical-align: top; padding: 2px 8px; border: none !important; }
#env-checks tr + tr td { border-top: 1px solid var(--border-color-primary) !important; }
#env-checks td:nth-child(2) { white-space: nowrap; }
#env-checks .ok { color: #16a34a; font-weight: 700; }
#env-checks .bad { color: #dc2626; font-weight: 700; }
#env-checks .warn { color: #d97706; font-weight: 700; }
#run-status { min-height: 1.6em; }
#result-info { font-size: .92rem; }
#generate-btn { font-size: 1.05rem; }
footer { opacity: .6; }
"""

# The result plays muted (browsers only autoplay muted media); gr.Video has no muted flag.
MUTE_JS = """() => {
  const mute = () => document.querySelectorAll('#result-video video').forEach(v => { v.muted = true; });
  new MutationObserver(mute).observe(document.body, {childList: true, subtree: true});
  mute();
}"""

LOGO = ('<svg width="24" height="24" viewBox="0 0 24 24" fill="none" stroke="white" stroke-width="2" '
        'stroke-linecap="round" stroke-linejoin="round"><rect x="3" y="5" width="13" height="14" rx="2"/>'
        '<path d="M16 10l5-3v10l-5-3z"/></svg>')


def theme() -> gr.themes.Base:
    # System fonts only: a Google font would make every page load wait on the network.
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
                          font=["Inter", "ui-sans-serif", "system-ui", "sans-serif"],
                          font_mono=["ui-monospace", "SFMono-Regular", "monospace"])

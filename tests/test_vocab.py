"""The closed sets: one vocabulary that the CLI, the page and the core all read."""

from __future__ import annotations

import json

import pytest

from svdapp.errors import InputError
from svdapp.vocab import Camera, Engine, Framing, Loop, MemoryPlan, SpeedMode, Stage, label_of, parse, values


def test_members_are_their_plain_strings():
    assert json.dumps({"camera": Camera.PAN_LEFT, Engine.SVD: 1}) == '{"camera": "pan-left", "svd": 1}'
    assert f"{Framing.TALL}" == "9:16" and Loop.NONE == "none"
    assert "turbo-compiled" in SpeedMode and "warp" not in SpeedMode  # a yes/no, never a TypeError
    assert values(MemoryPlan) == ["auto", "high", "normal", "low", "minimal", "cpu"]


def test_parse_normalises_and_a_bad_value_lists_the_allowed_ones():
    assert parse(Camera, " Push-In ") is Camera.PUSH_IN
    assert parse(Framing, "", {"": Framing.NONE}) is Framing.NONE
    with pytest.raises(InputError) as err:
        parse(SpeedMode, "warp")
    assert err.value.message == "Unknown speed mode 'warp'."
    assert err.value.hint == "Use one of: exact, compiled, turbo, turbo-compiled."


def test_every_member_has_words_for_people():
    for kind in (Engine, Camera, Loop, Framing, MemoryPlan, SpeedMode, Stage):
        for member in kind:
            assert member.label.strip(), member
    assert label_of(Stage, "decode") == "Decoding frames"
    assert label_of(Stage, "a-newer-stage") == "a-newer-stage"  # shown as it is, never a crash


def test_cli_offers_exactly_the_vocabulary(capsys):
    from svdapp.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["make", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for kind, flag in ((Camera, "--camera"), (Loop, "--loop"), (Framing, "--framing"), (MemoryPlan, "--memory"),
                       (SpeedMode, "--speed"), (Engine, "--engine")):
        assert f"{flag} {{{','.join(values(kind))}}}" in text
    assert "turbo-compiled: turbo on compiled blocks" in text


def test_every_stage_a_run_reports_is_shown_in_words(app_env, tmp_path, product_photo):
    """Both engines, finishing, every format and takes: each stage the core reports has a label, and
    the CLI's progress line and the page's progress bar show that label (after the take it belongs
    to), never the raw name."""
    import io

    from svdapp.cli import ProgressLine
    from svdapp.jobs import run_request
    from svdapp.request import GenerationRequest
    from svdapp.ui.generation import ProgressReporter

    from .conftest import TINY_OVERRIDES

    reported = []
    runs = (GenerationRequest(image=product_photo, engine="svd", overrides=TINY_OVERRIDES, interpolate=2,
                              formats=("all",), out=tmp_path / "svd.mp4"),
            GenerationRequest(image=product_photo, engine="classic", seconds=0.5, out=tmp_path / "classic.mp4",
                              overrides={"width": 128, "height": 64}, takes=2))
    for request in runs:
        run_request(request, progress=lambda stage, done, total: reported.append((stage, done, total)))
    stages = {stage for stage, _, _ in reported}
    assert stages == set(Stage) - {Stage.BENCH}  # every stage there is (bench: test_speedtest)
    shown, lines = [], []
    line = ProgressLine(io.StringIO())
    bar = ProgressReporter(lambda fraction, desc: shown.append(desc))
    for stage, done, total in reported:
        line(stage, done, total)
        lines.append(line.last.split("] ", 1)[1])
        assert lines[-1].split(" · ")[-1].startswith(Stage(stage).label)
        bar(stage, done, total)
        assert shown[-1].split(" · ")[-1].startswith(Stage(stage).label)
    for seen in (lines, shown):
        assert "Take 2/2 · Preparing camera motion" in seen and "Rendering the kept take · Encoding video 15/15" in seen

"""`svdapp bench`'s core: time the speed modes on the tiny model (CPU) and advise one."""

import io
import json

import pytest

from svdapp import speedtest
from svdapp.cli import ProgressLine
from svdapp.engine.bench import BenchReport, ModeTiming
from svdapp.errors import InputError
from svdapp.settings import load_settings
from svdapp.vocab import Stage

from .conftest import TINY_OVERRIDES, run_cli


def timing(mode, video_s, mean_abs=None, compiled=False):
    return ModeTiming(mode, video_s / 25, video_s, 1.0, 1.0, 10.0, None, mean_abs, None if mean_abs is None else 9,
                      compiled)


def report(*timings, failed=None):
    return BenchReport("NVIDIA RTX 4090", "high", 25, 1024, 576, 6, 25, tuple(timings), failed or {})


def test_timing_each_mode_on_the_tiny_model(app_env):
    line = ProgressLine(io.StringIO())
    reported = []

    def progress(stage, done, total):
        reported.append(stage)
        line(stage, done, total)
        assert line.last.split("] ", 1)[1].startswith(Stage(stage).label)  # every stage in words

    result = speedtest.run_speedtest(overrides={**TINY_OVERRIDES, "seed": 3}, modes=("exact", "turbo"), steps=6,
                                     settings=load_settings(), progress=progress)
    assert reported.count(Stage.BENCH) == 2
    assert [t.mode for t in result.timings] == ["exact", "turbo"] and not result.failed
    assert (result.device, result.plan, result.steps_measured, result.steps_video) == ("processor", "cpu", 6, 2)
    exact, turbo = result.timings
    assert exact.mean_abs_vs_exact is None and turbo.mean_abs_vs_exact > 0  # turbo's frames differ
    for t in result.timings:
        assert t.predicted_video_s >= t.first_step_s + t.decode_s > 0
        assert not t.compiled and t.compile_s is None
    text = speedtest.format_report(result)
    assert "Turbo (approx.)" in text and "Pick --speed" in text


def test_the_advice_names_the_fastest_exact_mode_and_what_turbo_gives():
    text = speedtest.advice(report(timing("exact", 18.0), timing("compiled", 14.0, 0.02, compiled=True),
                                   timing("turbo", 9.0, 2.5), timing("turbo-compiled", 6.0, 2.6, compiled=True)))
    assert text.startswith("Pick --speed compiled: 14 s per video")
    assert "--speed turbo-compiled is 2.3x faster (6 s)" in text and "not timed" not in text
    only_exact_and_turbo = speedtest.advice(report(timing("exact", 18.0), timing("turbo", 9.0, 2.5)))
    assert only_exact_and_turbo.startswith("Pick --speed exact: 18 s") and "not timed" in only_exact_and_turbo
    slower_turbo = speedtest.advice(report(timing("exact", 8.0), timing("turbo", 9.0, 2.5)))
    assert "--speed turbo" not in slower_turbo


def test_a_failed_mode_is_listed_with_its_error():
    text = speedtest.format_report(report(timing("exact", 18.0), failed={"compiled": "OutOfMemory: no room"}))
    assert "Compiled" in text and "failed: OutOfMemory: no room" in text


def test_modes_to_time():
    assert speedtest.parse_modes(None) == ("exact", "turbo")
    assert speedtest.parse_modes(None, include_compiled=True) == ("exact", "compiled", "turbo", "turbo-compiled")
    assert speedtest.parse_modes("turbo") == ("exact", "turbo")  # exact is the reference, always timed
    assert speedtest.parse_modes("all") == speedtest.ALL_MODES
    with pytest.raises(InputError, match="warp"):
        speedtest.parse_modes("turbo,warp")


def test_svdapp_bench_from_the_command_line(app_env, tmp_path):
    res = run_cli(["bench", "--width", "128", "--height", "64", "--frames", "4", "--memory", "cpu", "--modes",
                   "turbo", "--json"], app_env, tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [t["mode"] for t in data["timings"]] == ["exact", "turbo"] and data["steps_measured"] == 6
    assert "Timing speed modes" in res.stderr  # the progress line names what it does


def test_svdapp_bench_without_a_gpu_says_how_to_run_anyway(app_env, tmp_path):
    res = run_cli(["bench", "--preset", "fast"], {**app_env, "CUDA_VISIBLE_DEVICES": ""}, tmp_path)
    assert res.returncode == 2
    assert "No CUDA GPU was found" in res.stderr and "--memory cpu" in res.stderr
    assert "Traceback" not in res.stderr


def test_the_page_words_the_advice_as_its_controls():
    from svdapp.ui.views import control_words
    text = speedtest.format_report(report(timing("exact", 18.0), timing("turbo", 9.0, 2.5)), control_words)
    assert "Pick Advanced → Speed = Exact: 18 s" in text and "Advanced → Speed = Turbo is 2.0x faster" in text
    assert "--speed" not in text

"""Presets from the guide, overrides, --portrait, and setting validation."""

import pytest

from svdapp.errors import InputError
from svdapp.presets import resolve


def test_explicit_values_override_the_preset_and_none_keeps_it():
    p = resolve("quality", {"frames": 30, "fps": None})
    assert (p.frames, p.fps) == (30, 25)


@pytest.mark.parametrize("size,portrait_size", [((1024, 576), (576, 1024)), ((128, 64), (64, 128)),
                                                ((576, 1024), (576, 1024))])
def test_portrait_turns_the_frame_upright(size, portrait_size):
    p = resolve(None, {"width": size[0], "height": size[1]}, portrait=True)
    assert (p.width, p.height) == portrait_size


@pytest.mark.parametrize("overrides,word", [({"frames": 0}, "Frames"), ({"frames": -3}, "Frames"),
                                            ({"fps": 0}, "fps"), ({"steps": 0}, "Steps"),
                                            ({"width": 100}, "multiple of 64"), ({"height": 0}, "multiple of 64"),
                                            ({"memory": "huge"}, "memory plan"), ({"motion": 300}, "Motion"),
                                            ({"noise_aug": 2.0}, "Noise"), ({"speed": "warp"}, "speed mode")])
def test_bad_settings_name_the_value_and_the_fix(overrides, word):
    with pytest.raises(InputError) as err:
        resolve(None, overrides)
    assert word in err.value.message and err.value.hint


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        resolve("ultra")
    assert "ultra" in err.value.message and "lowmem-portrait" in err.value.hint


def test_the_readme_preset_table_is_what_the_presets_are():
    from svdapp.presets import PRESETS

    from .conftest import readme_table

    rows = {row["preset"].split("`")[1]: row for row in readme_table("### Presets")}
    assert set(rows) == set(PRESETS)
    for name, row in rows.items():
        p = resolve(name)
        assert (p.frames, p.fps, f"{p.width}x{p.height}", p.steps, p.decode_chunk) == \
            (int(row["frames"]), int(row["playback fps"]), row["size"], int(row["steps"]), int(row["decode chunk"])), name
        assert ("low memory plan" in row["notes"]) == (p.memory == "low"), name
    assert "(default)" in rows["standard"]["preset"]


def test_the_guide_s_presets():
    """The user's guide: fast = 15 frames @ 15 fps; quality = 50 frames @ 25 fps; low-memory portrait =
    25 frames, 576x1024, the low memory plan and a small decode chunk."""
    fast, quality, low = resolve("fast"), resolve("quality"), resolve("lowmem-portrait")
    assert (fast.frames, fast.fps, fast.steps, fast.decode_chunk) == (15, 15, 20, 8)
    assert (quality.frames, quality.fps, quality.steps, quality.decode_chunk) == (50, 25, 30, 4)
    assert (low.frames, low.fps, low.width, low.height, low.memory, low.decode_chunk) == (25, 15, 576, 1024, "low", 2)

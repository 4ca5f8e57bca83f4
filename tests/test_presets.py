"""Presets from the guide, overrides, --portrait, and setting validation."""

import pytest

from svdapp.errors import InputError
from svdapp.presets import resolve


def test_guide_presets():
    fast, quality, low = resolve("fast"), resolve("quality"), resolve("lowmem-portrait")
    assert (fast.frames, fast.fps) == (15, 15)
    assert (quality.frames, quality.fps) == (50, 25)
    assert (low.frames, low.width, low.height, low.memory) == (25, 576, 1024, "low")
    assert low.decode_chunk <= 2


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

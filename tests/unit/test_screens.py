"""The monitor layouts offered for the images, as plain geometry."""

from __future__ import annotations

import pytest

from engine.display.screens import Rect, Screen, image_choices, next_choice, parse_names, span
from engine.errors import MammoDeskError
from engine.settings import check_value

CONTROL = Screen("HDMI-1", 0, 0, 1920, 1080)
LEFT = Screen("DP-1", 1920, 0, 2048, 2560)  # two 5 MP portrait diagnostic monitors
RIGHT = Screen("DP-2", 3968, 0, 2048, 2560)
ROOM = [RIGHT, CONTROL, LEFT]  # in whatever order the system lists them


def test_each_other_screen_then_the_portrait_pair():
    assert image_choices(ROOM, "HDMI-1") == [("DP-1",), ("DP-2",), ("DP-1", "DP-2")]


def test_the_control_screen_never_holds_the_images():
    assert image_choices(ROOM, "DP-1") == [("HDMI-1",), ("DP-2",)]  # no pair without DP-1
    assert image_choices([CONTROL], "HDMI-1") == []


def test_screens_of_different_height_or_with_a_gap_are_no_pair():
    taller = Screen("DP-2", 3968, 0, 2048, 2600)
    apart = Screen("DP-2", 4000, 0, 2048, 2560)
    for other in (taller, apart):
        assert image_choices([CONTROL, LEFT, other], "HDMI-1") == [("DP-1",), ("DP-2",)]
        assert span([CONTROL, LEFT, other], ("DP-1", "DP-2")) is None


def test_the_span_covers_both_screens_in_either_order():
    assert span(ROOM, ("DP-2", "DP-1")) == Rect(1920, 0, 4096, 2560)
    assert span(ROOM, ("DP-2",)) == Rect(3968, 0, 2048, 2560)
    assert span(ROOM, ("DP-9",)) is None
    assert span(ROOM, ()) is None


def test_pressing_again_walks_the_choices_then_back_to_the_main_window():
    walk, current = [], ()
    for _ in range(4):
        current = next_choice(ROOM, "HDMI-1", current)
        walk.append(current)
    assert walk == [("DP-1",), ("DP-2",), ("DP-1", "DP-2"), ()]
    assert next_choice(ROOM, "HDMI-1", ("DP-9",)) == ("DP-1",)  # a stale choice starts over


def test_the_setting_is_checked_and_tidied():
    assert check_value("display.image_screens", " DP-1 , DP-2 ") == "DP-1,DP-2"
    assert parse_names("") == ()
    for bad, reason in (("DP-1,DP-2,DP-3", "at most two"), ("DP-1,DP-1", "twice")):
        with pytest.raises(MammoDeskError, match=reason):
            check_value("display.image_screens", bad)

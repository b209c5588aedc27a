"""The reading sequence as data: the default steps, a site's own steps from
the setting, every refusal in one line, the same-size scale for current and
prior, and the 1:1 tour's coverage of the image."""

from __future__ import annotations

import json

import pytest

from engine.display.hanging import HangImage, hang_cells
from engine.display.protocol import (
    DEFAULT_STEPS,
    parse_steps,
    same_size_scale,
    steps_json,
    tour_positions,
)
from engine.errors import MammoDeskError
from engine.settings import check_value


def test_the_default_sequence_is_2x2_then_priors_then_each_view_at_one_to_one() -> None:
    names = [s.name for s in DEFAULT_STEPS]
    assert names[:3] == ["Screening 2x2", "CC: current above prior", "MLO: current above prior"]
    assert [s.zoom for s in DEFAULT_STEPS] == ["fit", "same-size", "same-size"] + ["1:1"] * 4
    singles = DEFAULT_STEPS[3:]
    assert {s.rows[0][0] for s in singles} == {(0, side, view) for side in "RL"
                                              for view in ("CC", "MLO")}
    assert all(s.tour for s in singles)
    assert [s.needs_prior for s in DEFAULT_STEPS[:3]] == [0, 1, 1]
    assert parse_steps("") == list(DEFAULT_STEPS)


def test_a_site_sequence_round_trips_through_the_setting() -> None:
    text = json.dumps([
        {"name": "Current and two priors, CC",
         "rows": [["RCC", "LCC"], ["RCC prior", "LCC prior"], ["RCC prior-2", "LCC prior-2"]],
         "zoom": "same-size"},
        {"rows": [["LMLO"]], "zoom": "1:1", "tour": True},
    ])
    steps = parse_steps(check_value("hanging.steps", text))
    assert steps[0].rows[2] == ((2, "R", "CC"), (2, "L", "CC")) and steps[0].needs_prior == 2
    assert steps[1].name == "LMLO" and steps[1].tour
    assert parse_steps(steps_json(steps)) == steps
    assert "\n" not in steps_json(steps)


@pytest.mark.parametrize(("text", "message"), [
    ("[", "not valid JSON"),
    ("{}", "non-empty JSON list"),
    ('[{"rows": [["RCC", "XCC"]]}]', "hanging step 1: 'XCC' is not a cell"),
    ('[{"rows": [["RCC"]]}, {"rows": []}]', "hanging step 2: rows must be"),
    ('[{"rows": [["RCC", "LCC"], ["RMLO"]]}]', "rows must be of equal length"),
    ('[{"rows": [["RCC"]], "zoom": "2:1"}]', "zoom must be one of fit, same-size, 1:1"),
    ('[{"rows": [["RCC"]], "tour": true}]', "true only at zoom 1:1"),
    ('[{"rows": [["RCC"]], "colour": "red"}]', "unknown field 'colour'"),
])
def test_a_bad_sequence_is_refused_in_one_line_naming_the_step(text, message) -> None:
    with pytest.raises(MammoDeskError, match=message) as err:
        check_value("hanging.steps", text)
    assert "\n" not in str(err.value)


def test_cells_come_from_the_study_each_step_names() -> None:
    def images(tag: str) -> list[HangImage]:
        return [HangImage(f"{tag}-{s}{v}", s, v) for s in "RL" for v in ("CC", "MLO")]

    step = parse_steps(json.dumps([{"rows": [["RMLO", "LMLO"], ["RMLO prior", "LMLO prior"],
                                             ["RMLO prior-2", "LMLO prior-2"]]}]))[0]
    hung = hang_cells(images("now"), step.rows, [images("before"), []], step.name)
    keys = [[c.placement.image.key if c.placement else c.label for c in row] for row in hung.rows]
    assert keys == [["now-RMLO", "now-LMLO"], ["before-RMLO", "before-LMLO"],
                    ["RMLO prior-2 missing", "LMLO prior-2 missing"]]


def test_same_size_is_one_physical_scale_that_fits_every_image() -> None:
    # Current at 0.07 mm (3328 x 4096), prior at 0.1 mm (2048 x 2560) in equal cells.
    cells = [(800.0, 500.0, 3328, 4096, 0.07), (800.0, 500.0, 2048, 2560, 0.1)]
    mm = same_size_scale(cells)
    assert mm is not None
    heights = [rows * spacing * mm for _, _, _, rows, spacing in cells]
    assert max(heights) == pytest.approx(500.0)  # the taller breast image fills its cell
    for width, height, columns, rows, spacing in cells:
        assert columns * spacing * mm <= width + 1e-9 and rows * spacing * mm <= height + 1e-9
    assert same_size_scale([(800.0, 500.0, 3328, 4096, None)]) is None


@pytest.mark.parametrize("chest_wall", ["left", "right"])
def test_the_tour_covers_every_pixel_starting_at_the_chest_wall(chest_wall) -> None:
    columns, rows, w, h = 3328, 4096, 1200.0, 900.0
    spots = tour_positions(columns, rows, w, h, chest_wall)
    covered = [[False] * 64 for _ in range(64)]
    for x, y in spots:
        assert 0 <= x <= columns - w and 0 <= y <= rows - h
        for i in range(64):
            for j in range(64):
                px, py = (j + 0.5) * columns / 64, (i + 0.5) * rows / 64
                if x <= px <= x + w and y <= py <= y + h:
                    covered[i][j] = True
    assert all(all(row) for row in covered)
    first_x = spots[0][0]
    assert first_x == (0.0 if chest_wall == "left" else columns - w) and spots[0][1] == 0.0
    # An image smaller than the screen: its chest wall on the screen's edge, centred vertically.
    assert tour_positions(100, 100, 200.0, 300.0, chest_wall) == [
        (0.0 if chest_wall == "left" else -100.0, -100.0)]

"""Saving figures (figures.py): one box for PNG and SVG, the picture of a tight save."""
import re

import numpy as np
import pytest
from PIL import Image

import helpers as h


def drawn_within_its_canvas():
    import matplotlib.pyplot as plt

    h.set_style()
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0.2, 0.9, 0.4], lw=2)
    ax.set_title("Within the canvas")
    ax.set_xlabel("x")
    fig.subplots_adjust(left=0.15, bottom=0.2)  # room for the tick labels and the axis label
    return fig


def drawn_past_its_canvas():
    fig = drawn_within_its_canvas()
    fig.axes[0].legend(["a legend placed right of the axes, past the canvas"], loc="upper left",
                       bbox_to_anchor=(1.02, 1.0))
    return fig


def measured(fig):
    """Whether everything drawn lies on the canvas, and the padded tight box (inches), at the saving dpi."""
    import matplotlib

    fig.set_dpi(matplotlib.rcParams["savefig.dpi"])
    fig.draw_without_rendering()
    box, (width, height) = fig.get_tightbbox(), fig.get_size_inches()
    inside = box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height
    return inside, box.padded(matplotlib.rcParams["savefig.pad_inches"])


def tight_save(fig, path):
    fig.savefig(path, bbox_inches="tight", metadata={"Software": None})
    return np.asarray(Image.open(path).convert("RGBA")).astype(int)


def test_a_figure_within_its_canvas_is_cut_from_one_drawing_where_a_tight_save_crops_it(tmp_path):
    import matplotlib

    inside, box = measured(drawn_within_its_canvas())
    assert inside and not measured(drawn_past_its_canvas())[0]
    expected = tight_save(drawn_within_its_canvas(), tmp_path / "tight.png")
    drawn = drawn_within_its_canvas()
    drawn.savefig(tmp_path / "whole.png", metadata={"Software": None})  # the whole canvas, uncropped
    whole = np.asarray(Image.open(tmp_path / "whole.png").convert("RGBA")).astype(int)
    saved = np.asarray(Image.open(h.save_figure(drawn_within_its_canvas(), "within", tmp_path, "a line").png)
                       .convert("RGBA")).astype(int)
    assert saved.shape == expected.shape and (saved[..., :3] < 128).any()
    # the pixels of the one drawing, cut where the box lies (to the pixel: the box's edges fall within pixels)
    dpi = matplotlib.rcParams["savefig.dpi"]
    left, top = box.x0 * dpi, (drawn.get_size_inches()[1] - box.y1) * dpi
    rows, cols = saved.shape[:2]
    assert any(np.array_equal(saved, whole[t:t + rows, c:c + cols])
               for t in range(int(top), int(top) + 2) for c in range(int(left), int(left) + 2)), "not one crop"


def test_a_figure_drawn_past_its_canvas_is_the_tight_save_byte_for_byte(tmp_path):
    tight_save(drawn_past_its_canvas(), tmp_path / "tight.png")
    out = h.save_figure(drawn_past_its_canvas(), "past", tmp_path, "a line and a legend")
    assert out.png.read_bytes() == (tmp_path / "tight.png").read_bytes()


@pytest.mark.parametrize("figure", [drawn_within_its_canvas, drawn_past_its_canvas])
def test_png_and_svg_have_one_size_and_no_timestamp(tmp_path, figure):
    import matplotlib

    out = h.save_figure(figure(), "f", tmp_path, "caption")
    width_px, height_px = Image.open(out.png).size
    svg = out.svg.read_text()
    width_pt, height_pt = (float(re.search(rf'{side}="([\d.]+)pt"', svg).group(1)) for side in ("width", "height"))
    dpi = matplotlib.rcParams["savefig.dpi"]
    assert width_pt / 72 == pytest.approx(width_px / dpi, abs=1.5 / dpi)
    assert height_pt / 72 == pytest.approx(height_px / dpi, abs=1.5 / dpi)
    assert "<dc:date>" not in svg and b"Software" not in out.png.read_bytes()


def test_room_for_puts_what_lies_past_the_canvas_on_it_and_moves_nothing():
    import matplotlib.pyplot as plt

    from compendium.figures import room_for

    fig = drawn_past_its_canvas()
    fig.suptitle("A title at the top left", x=0.02, ha="left")
    inside, before = measured(fig)
    assert not inside
    axes_inches = fig.axes[0].get_position().get_points() * fig.get_size_inches()
    title_inches = np.asarray(fig.texts[0].get_position()) * fig.get_size_inches()
    room_for(fig, right=4.0, top=0.5)
    inside, after = measured(fig)
    assert inside and np.allclose(fig.get_size_inches(), [8.0, 3.5])
    np.testing.assert_allclose(fig.axes[0].get_position().get_points() * fig.get_size_inches(), axes_inches)
    np.testing.assert_allclose(np.asarray(fig.texts[0].get_position()) * fig.get_size_inches(), title_inches)
    np.testing.assert_allclose(after.bounds, before.bounds, atol=1e-9)  # the same tight box: the same files
    plt.close(fig)


def test_plots_with_a_legend_beside_them_lie_on_their_canvas():
    """The funnel, effect-direction and GOSH plots keep their legends on the canvas, so save_figure draws
    each once for the PNG (and once for the SVG)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from compendium.forest_funnel import funnel_plot
    from compendium.influence_plots import gosh_plot
    from meta_analysis import fit_meta, gosh, trim_and_fill

    rng = np.random.default_rng(7)
    yi, vi = rng.normal(0.2, 0.2, 12), rng.uniform(0.01, 0.05, 12)
    labels = [f"A rather long study label {i}" for i in range(12)]
    votes = pd.DataFrame({"study_id": labels, "marks": ["†", "‡", "§"] * 4, "cell": "x",
                          "vote": ["positive", "negative", "null", "mixed"] * 3, "significant": ["yes", "no"] * 6})
    figures = {
        "funnel": funnel_plot(yi, vi, fit_meta(yi, vi), "A title", "Effect size (Fisher z)",
                              filled=trim_and_fill(yi, vi), transform=np.tanh),
        "effect direction": h.effect_direction_plot(votes, ["cell"], "A title"),
        "GOSH": gosh_plot(gosh(yi[:8], vi[:8], labels=labels[:8]), highlight=labels[0],
                          title="GOSH plot: Any web-based help seeking ~ depressive symptoms"),
    }
    for name, fig in figures.items():
        assert measured(fig)[0], name
        plt.close(fig)


def test_effect_direction_beyond_the_row_limit_counts_votes_per_cell_and_says_so():
    import matplotlib.pyplot as plt
    import pandas as pd

    votes = pd.DataFrame({"study_id": [f"S{i:02d}" for i in range(12)] * 2, "marks": "",
                          "cell": ["a"] * 12 + ["b"] * 12, "vote": (["positive"] * 5 + ["negative"] * 4 + ["null"] * 3) * 2,
                          "significant": ["yes", "no"] * 12})
    fig = h.effect_direction_plot(votes, ["cell"], "T", max_rows=10, table_name="t_votes.csv")
    ax = fig.axes[0]
    title = ax.get_title(loc="left").replace("\n", " ")
    assert "12 studies, counted per cell" in title and "t_votes.csv" in title
    widths = {}  # the bars of each cell add up to its votes, by kind
    for bars in ax.containers:
        for y, patch in enumerate(bars.patches):
            widths.setdefault(bars.get_label(), []).append(patch.get_width())
    assert sum(w[0] for w in widths.values()) == 12 and sum(w[1] for w in widths.values()) == 12
    assert widths["positive, significant"] == [3, 3] and widths["positive, not significant"] == [2, 2]
    assert measured(fig)[0]
    plt.close(fig)
    rows = h.effect_direction_plot(votes, ["cell"], "T", max_rows=12)  # at the limit: one row per study
    assert len(rows.axes[0].get_yticklabels()) == 12
    plt.close(rows)


def rob_marks(fig):
    """Study label → (symbol, face colour) in the effect-direction plot's risk-of-bias column."""
    from matplotlib.colors import to_hex

    ax = fig.axes[0]
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    column = [t for t in ax.texts if t.get_text() in ("+", "−", "×", "n/r")]
    faces = {}
    for points in ax.collections:
        offsets = points.get_offsets()
        if len(offsets) and np.allclose(offsets[:, 0], column[0].get_position()[0]):
            for (_, y), face in zip(offsets, np.broadcast_to(points.get_facecolors(), (len(offsets), 4))):
                faces[round(y)] = to_hex(face)
    return {labels[round(t.get_position()[1])]: (t.get_text(), faces[round(t.get_position()[1])]) for t in column}


def test_effect_direction_marks_each_studys_overall_risk_of_bias_in_robvis_colours():
    """Boon & Thomson (2021): each study's risk of bias beside its votes; a study the sheet does not rate
    is n/r, never low or high; the legend names only the levels drawn."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from compendium.appraisal import ROBVIS

    votes = pd.DataFrame({"study_id": ["Low 2019", "High 2020", "Concerns 2021", "Unrated 2018"] * 2,
                          "marks": ["", "†", "¶", ""] * 2, "cell": ["a"] * 4 + ["b"] * 4,
                          "vote": ["positive", "negative", "null", "mixed"] * 2, "significant": ["yes", "no"] * 4})
    overall = {"Low 2019": "low", "High 2020": "high", "Concerns 2021": "some concerns",
               "Elsewhere 2017": "high"}  # a rated study without a vote draws nothing
    fig = h.effect_direction_plot(votes, ["cell"], "T", overall=overall)
    colour = {level: ROBVIS[level][0].lower() for level in ("low", "some concerns", "high")}
    assert rob_marks(fig) == {"Low 2019": ("+", colour["low"]), "High 2020 †": ("×", colour["high"]),
                              "Concerns 2021 ¶": ("−", colour["some concerns"]), "Unrated 2018": ("n/r", "#ffffff")}
    ax = fig.axes[0]
    assert "Risk of\nbias" in [t.get_text() for t in ax.get_xticklabels()]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-7:] == ["† proxy measure", "¶ adjusted estimate",  # every mark after a name is explained
                           "overall risk of bias:", "+  low", "−  some concerns", "×  high", "n/r  not rated"]
    assert measured(fig)[0]  # the longer legend stays on the canvas
    plt.close(fig)

    only_rated = h.effect_direction_plot(votes[votes["study_id"] != "Unrated 2018"], ["cell"], "T",
                                         overall={"Low 2019": "low", "High 2020": "low", "Concerns 2021": "low"})
    legend = [t.get_text() for t in only_rated.axes[0].get_legend().get_texts()]
    assert legend[-2:] == ["overall risk of bias:", "+  low"]  # only the levels drawn
    assert set(rob_marks(only_rated).values()) == {("+", colour["low"])}
    plt.close(only_rated)

    nothing_rated = h.effect_direction_plot(votes, ["cell"], "T", overall={})
    assert {mark for mark, _ in rob_marks(nothing_rated).values()} == {"n/r"}
    plt.close(nothing_rated)

    plain = h.effect_direction_plot(votes, ["cell"], "T")  # without judgements: no column, as before
    assert [t.get_text() for t in plain.axes[0].get_xticklabels()] == ["a", "b"] and not plain.axes[0].texts
    plt.close(plain)

    with pytest.raises(ValueError, match="'Low 2019' is 'probably low'"):
        h.effect_direction_plot(votes, ["cell"], "T", overall={"Low 2019": "probably low"})


def test_effect_direction_summary_draws_unclear_votes():
    import matplotlib.pyplot as plt
    import pandas as pd

    votes = pd.DataFrame({"study_id": [f"S{i:02d}" for i in range(12)], "marks": "", "cell": "a",
                          "vote": ["positive"] * 6 + ["unclear"] * 3 + ["mixed"] * 3, "significant": "no"})
    fig = h.effect_direction_plot(votes, ["cell"], "T", max_rows=10)
    drawn = {bars.get_label(): sum(p.get_width() for p in bars.patches) for bars in fig.axes[0].containers}
    assert sum(drawn.values()) == 12 and any("unclear" in label and width == 3 for label, width in drawn.items())
    plt.close(fig)

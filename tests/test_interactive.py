"""aecore.interactive: the six interactive figures, checked as specs (the browser test,
tests/site/test_interactive_site.py, works them in Chromium on the built book)."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

alt = pytest.importorskip("altair")

from aecore import interactive as ix  # noqa: E402
from aecore.anomaly import detection_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot"]


def blobs(n, rng, size=28):
    """Smooth random images in [0, 1] (they compress like real ones, unlike pure noise)."""
    yy, xx = np.mgrid[:size, :size] / size
    c = rng.uniform(0.3, 0.7, (n, 2, 1, 1))
    r = rng.uniform(0.1, 0.3, (n, 1, 1))
    return np.exp(-((xx - c[:, 0]) ** 2 + (yy - c[:, 1]) ** 2) / r ** 2)


@pytest.fixture(scope="module")
def inputs():
    """What the chapters pass, at chapter size."""
    rng = np.random.default_rng(0)
    grid = np.linspace(-3, 3, 21)
    labels = rng.integers(0, 10, 5000)
    y = (rng.random(10000) < 0.1).astype(int)
    scores = np.where(y == 1, rng.lognormal(-3.5, 0.5, 10000), rng.lognormal(-4.2, 0.4, 10000))
    clean = blobs(6, rng)
    noise = {s: {"noisy input": (np.clip(clean + rng.normal(0, s, clean.shape), 0, 1),
                                 20 - 20 * s + rng.random()),
                 "denoising AE": (blobs(6, rng), 28 - 10 * s + rng.random()),
                 "BM3D": (blobs(6, rng), 27 - 12 * s + rng.random())}
             for s in (0.1, 0.2, 0.3, 0.4, 0.5)}
    bits = {b: {m: (blobs(6, rng), rng.random() / b) for m in ("VQ", "FSQ", "PCA")}
            for b in (16, 32, 64, 128, 256)}
    map_labels = rng.integers(0, 10, 10000)
    return {
        "grid": grid, "grid_images": blobs(21 * 21, rng).reshape(21, 21, 28, 28),
        "codes": rng.normal(size=(5000, 2)), "labels": labels,
        "y": y, "scores": scores, "threshold": float(np.quantile(scores[y == 0], 0.95)),
        "clean": clean, "noise": noise, "bits": bits,
        "maps": {"autoencoder": rng.normal(size=(10000, 2)),
                 "PCA": rng.normal(size=(10000, 2)), "t-SNE": rng.normal(size=(10000, 2))},
        "map_labels": map_labels, "thumbnails": blobs(10000, rng),
        "top_images": blobs(32 * 8, rng).reshape(32, 8, 28, 28),
        "directions": rng.normal(size=(32, 28, 28)),
        "stats": {"activation frequency": rng.random(32) * 0.1, "label purity": rng.random(32)},
    }


@pytest.fixture(scope="module")
def figures(inputs):
    d = inputs
    return {
        "latent_plane": ix.latent_plane(d["grid_images"], d["grid"], d["codes"], d["labels"],
                                        CLASSES, point=(0.6, -1.2)),
        "threshold_explorer": ix.threshold_explorer(d["y"], d["scores"], d["threshold"],
                                                    formats={"precision": ".1%"}),
        "noise_explorer": ix.noise_explorer(d["noise"], d["clean"], sigma=0.3),
        "linked_maps": ix.linked_maps(d["maps"], d["map_labels"], d["thumbnails"],
                                      class_names=CLASSES),
        "bits_explorer": ix.bits_explorer(d["bits"], d["clean"], budget=64),
        "latent_explorer": ix.latent_explorer(d["top_images"], d["directions"], d["stats"],
                                              latents=range(100, 132), latent=105),
    }


def params(spec):
    """Every parameter of a spec, wherever it sits (top level or a view)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            found.extend(p for p in node.get("params", []) if isinstance(p, dict))
            for key, value in node.items():
                if key != "datasets":
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    return {p["name"]: p for p in found}


def datasets(spec):
    return list(spec.get("datasets", {}).values())


# -- every figure -----------------------------------------------------------------------------
def test_every_figure_is_a_valid_vega_lite_5_spec_with_a_description(figures):
    for name, chart in figures.items():
        spec = chart.to_dict()  # Altair validates against the Vega-Lite 5 schema
        assert spec["$schema"].endswith("/v5.20.1.json"), name
        assert spec["description"].startswith("Interactive figure:"), name
        assert len(spec["description"]) > 80, name
        assert spec["usermeta"]["aecore"]["figure"] == name
        assert spec["usermeta"]["embedOptions"] == {"renderer": "svg", "actions": False}
        assert spec["config"]["background"] == "#ffffff", name  # a white card in dark mode


def test_every_control_is_a_labelled_native_input(figures):
    for name, chart in figures.items():
        bound = [p for p in params(chart.to_dict()).values() if "bind" in p]
        assert bound, f"{name} has no control"
        for p in bound:
            assert p["bind"]["input"] in ("range", "select"), (name, p["bind"])
            assert p["bind"].get("name", "").strip(), f"{name}: {p['name']} has no label"
            if p["bind"]["input"] == "select":
                assert len(p["bind"]["labels"]) == len(p["bind"]["options"]), name


def test_page_weight_of_chapter_sized_figures_is_under_a_megabyte(figures):
    weights = {name: ix.page_weight(chart) for name, chart in figures.items()}
    print("page weight of each figure (bytes):", weights)
    assert all(w < 1_000_000 for w in weights.values()), weights
    # the thumbnails are small PNGs, not lists of pixels
    assert weights["linked_maps"] < 400_000, weights


def test_a_figure_too_heavy_for_a_page_is_refused(inputs):
    with pytest.raises(ValueError, match="MB to its page.*fewer"):
        ix.linked_maps(inputs["maps"], inputs["map_labels"],
                       np.random.default_rng(0).random((10000, 28, 28)), max_points=5000)


# -- what each figure shows at its default setting --------------------------------------------
def test_threshold_explorer_at_its_default_shows_detection_reports_numbers(inputs, figures):
    from sklearn.metrics import precision_score, recall_score

    y, scores, t = inputs["y"], inputs["scores"], inputs["threshold"]
    chart = figures["threshold_explorer"]
    flagged = scores > t
    report = detection_report(y, scores, t)
    assert report["precision"] == precision_score(y, flagged)
    assert ix.shown(chart) == {
        "threshold": format(t, ".4g"),
        "flagged": str(int(flagged.sum())),
        "precision": format(precision_score(y, flagged), ".1%"),
        "recall": format(recall_score(y, flagged), ".3f"),
        "false_positive_rate": format(report["false_positive_rate"], ".3f"),
    }
    spec = chart.to_dict()
    assert params(spec)["threshold"]["value"] == t  # the slider starts exactly there
    lines = {row["text"] for rows in datasets(spec) for row in rows
             if row.get("k") == 0 and "text" in row}
    assert f"precision {format(report['precision'], '.1%')}" in lines
    assert f"recall {format(report['recall'], '.3f')}" in lines


def test_threshold_explorer_agrees_with_sklearn_at_every_slider_position(inputs, figures):
    from sklearn.metrics import precision_score, recall_score

    y, scores = inputs["y"], inputs["scores"]
    spec = figures["threshold_explorer"].to_dict()
    operating = next(rows for rows in datasets(spec) if rows and "tpr" in rows[0]
                     and "k" in rows[0])
    for row in operating[::17]:
        flagged = scores > row["t"]
        assert row["tpr"] == pytest.approx(recall_score(y, flagged))
        assert row["fpr"] == pytest.approx(flagged[y == 0].mean())
        text = next(r["text"] for rows in datasets(spec) for r in rows
                    if r.get("k") == row["k"] and r.get("line") == 2)
        assert text == f"precision {format(precision_score(y, flagged, zero_division=0), '.1%')}"


def test_level_explorers_show_the_chapters_numbers_at_their_default(inputs, figures):
    noise = figures["noise_explorer"]
    assert ix.shown(noise) == {m: format(v, ".1f") for m, (_, v) in inputs["noise"][0.3].items()}
    assert params(noise.to_dict())["level"]["value"] == 0.3
    assert params(noise.to_dict())["level"]["bind"]["input"] == "range"  # evenly spaced σ
    bits = figures["bits_explorer"]
    assert ix.shown(bits) == {m: format(v, ".4f") for m, (_, v) in inputs["bits"][64].items()}
    assert params(bits.to_dict())["level"]["bind"]["input"] == "select"  # doubling budgets


def test_latent_explorer_starts_at_the_chosen_latent(inputs, figures):
    chart = figures["latent_explorer"]
    stats = inputs["stats"]
    assert ix.shown(chart) == {name: format(v[5], ".3g") for name, v in stats.items()}
    pick = params(chart.to_dict())["latent_pick"]
    assert pick["value"] == [{"latent": 105}]
    assert pick["bind"]["options"] == list(range(100, 132))


def test_latent_plane_starts_at_the_grid_point_nearest_the_given_point(inputs, figures):
    spec = figures["latent_plane"].to_dict()
    p = params(spec)
    assert (p["z1"]["value"], p["z2"]["value"]) == (0.6, -1.2)
    cells = next(rows for rows in datasets(spec) if rows and "where" in rows[0])
    assert len(cells) == 21 * 21
    cell = next(c for c in cells if (c["i"], c["j"]) == (12, 6))
    assert (cell["z1"], cell["z2"]) == (0.6, -1.2) and cell["where"] == "z = (0.60, -1.20)"
    assert cell["url"] == ix._png(inputs["grid_images"][12, 6])


def test_glued_numbers_read_like_the_figures(figures):
    """MyST-NB writes {glue:text}`name:spec` as format(value, spec) of the glued value: the
    same string the figure shows when given the same spec."""
    variables = pytest.importorskip("myst_nb.core.variables")
    value = 0.912345
    chart = ix.latent_explorer(np.zeros((2, 1, 4, 4)), np.ones((2, 4, 4)),
                               {"purity": [value, 0.5]}, formats={"purity": ".1%"})
    assert ix.shown(chart)["purity"] == variables.format_plain_text(repr(value), ".1%")


# -- the renderer -----------------------------------------------------------------------------
def test_renderer_gives_html_in_colab_and_book_builds_and_the_mimetype_elsewhere(
        figures, monkeypatch):
    spec = figures["bits_explorer"].to_dict()
    monkeypatch.delenv("AECORE_FIGURES", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    bundle = ix.render(spec)
    assert set(bundle) == {ix.VEGALITE_MIMETYPE, "text/plain"}  # JupyterLab draws it offline
    assert bundle["text/plain"].startswith(spec["description"])
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert set(ix.render(spec)) == {"text/html", "text/plain"}
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.setenv("AECORE_FIGURES", "html")  # what book/_ext/book_fixes.py sets
    html = ix.render(spec)["text/html"]
    for name, version in ix.VEGA_VERSIONS.items():
        assert f"https://cdn.jsdelivr.net/npm/{name}@{version}/build/{name}.min.js" in html
    assert 'data-aecore-figure="bits_explorer"' in html
    shows = re.search(r'data-shows="([^"]*)"', html).group(1)
    assert json.loads(shows.replace("&quot;", '"')) == ix.shown(figures["bits_explorer"])
    assert alt.renderers.active == "aecore"


def test_html_cannot_be_closed_early_by_the_data():
    chart = ix.latent_explorer(np.zeros((2, 1, 4, 4)), np.ones((2, 4, 4)),
                               {"</script><b>x": [1.0, 2.0]})
    html = ix.to_html(chart)
    assert html.count("</script>") == 1 and "<\\/script><b>x" in html


def test_the_makefile_fetches_the_versions_the_figures_load():
    makefile = (ROOT / "Makefile").read_text()
    fetched = {name: re.search(rf"^{var} := (\S+)$", makefile, re.M).group(1) for name, var in
               (("vega", "VEGA_VERSION"), ("vega-lite", "VEGALITE_VERSION"),
                ("vega-embed", "VEGAEMBED_VERSION"))}
    assert fetched == ix.VEGA_VERSIONS
    import altair.vegalite.v5.display as display

    assert display.VEGALITE_VERSION == ix.VEGA_VERSIONS["vega-lite"]  # the schema Altair checks
    assert ix.VEGA_VERSIONS["vega"].split(".")[0] == display.VEGA_VERSION
    assert ix.VEGA_VERSIONS["vega-embed"].split(".")[0] == display.VEGAEMBED_VERSION


# -- bad input --------------------------------------------------------------------------------
def test_bad_input_is_a_clear_value_error(inputs):
    d = inputs
    cases = [
        (lambda: ix.latent_plane(d["grid_images"], d["grid"] ** 3, d["codes"], d["labels"],
                                 CLASSES), "evenly spaced"),
        (lambda: ix.latent_plane(d["grid_images"][:5], d["grid"], d["codes"], d["labels"],
                                 CLASSES), r"shape \(21, 21, H, W\)"),
        (lambda: ix.latent_plane(d["grid_images"], d["grid"], d["codes"][:, :1], d["labels"],
                                 CLASSES), r"codes must have shape \(m, 2\)"),
        (lambda: ix.latent_plane(d["grid_images"], d["grid"], d["codes"], d["labels"],
                                 CLASSES[:3]), r"class indices in \[0, 3\)"),
        (lambda: ix.threshold_explorer(d["y"], d["scores"][:10], 0.1), "for each score"),
        (lambda: ix.threshold_explorer(np.zeros(10, int), np.ones(10), 0.1), "both normal"),
        (lambda: ix.threshold_explorer(d["y"], d["scores"], float("nan")), "finite number"),
        (lambda: ix.threshold_explorer(d["y"], d["scores"], 0.1, formats={"f1": ".2f"}),
         "unknown keys"),
        (lambda: ix.threshold_explorer(d["y"], d["scores"], 0.1, formats={"recall": ".2q"}),
         "not a format spec"),
        (lambda: ix.noise_explorer(d["noise"], d["clean"], sigma=0.25), r"not one of the levels"),
        (lambda: ix.noise_explorer({}, d["clean"]), "non-empty dict"),
        (lambda: ix.noise_explorer({0.1: {"DAE": d["clean"]}}, d["clean"]), "pair"),
        (lambda: ix.bits_explorer({8: {"VQ": (d["clean"][:, :10], 0.1)}}, d["clean"]),
         "images of shape"),
        (lambda: ix.linked_maps({"AE": d["maps"]["PCA"]}, d["map_labels"], d["thumbnails"]),
         "2 to 4 maps"),
        (lambda: ix.linked_maps({"a": d["maps"]["PCA"], "b": d["maps"]["PCA"][:9]},
                                d["map_labels"], d["thumbnails"]), "like the first map"),
        (lambda: ix.linked_maps({"a": d["maps"]["PCA"], "b": d["maps"]["PCA"]},
                                d["map_labels"], d["thumbnails"][:5]), "one image per point"),
        (lambda: ix.latent_explorer(d["top_images"][:3], d["directions"], d["stats"]),
         "one set of images per latent"),
        (lambda: ix.latent_explorer(d["top_images"], d["directions"], {"f": [1.0]}),
         "one value per latent"),
        (lambda: ix.latent_explorer(d["top_images"], d["directions"], d["stats"], latent=99),
         "not one of latents"),
        (lambda: ix.latent_explorer(d["top_images"], d["directions"], {}), "non-empty dict"),
    ]
    for make, message in cases:
        with pytest.raises(ValueError, match=message):
            make()


def test_thumbnails_are_exact_png_files():
    import base64
    import io

    from PIL import Image

    rng = np.random.default_rng(1)
    for image in (rng.random((28, 28)), rng.random((5, 7, 3)), np.zeros((3, 3))):
        uri = ix._png(image)
        assert uri.startswith("data:image/png;base64,")
        pixels = np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
        np.testing.assert_array_equal(pixels, (image * 255).round().astype(np.uint8))

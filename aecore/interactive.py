"""Interactive figures: one cell that works on the book's static site, in Colab and in
JupyterLab.

Each function takes the arrays a chapter already has and returns an Altair (Vega-Lite 5)
chart; displaying it (the cell's last line) draws it. Everything is computed here, in NumPy:
the figure carries its data (thumbnails as small PNG data URIs, subsampled points) and needs
no kernel once drawn. Every control is a native, labelled ``<input type="range">`` or
``<select>`` (Vega-Lite parameters bound to inputs), so it works from the keyboard; every
figure has a text description (Vega puts it in the ``aria-label`` of the drawing); every
figure sits on a white card, readable in light and dark mode.

- `latent_plane`: a 2-D code plane; choose a point (sliders, or hover) and see its decoding.
- `threshold_explorer`: slide an anomaly threshold; flagged counts, precision, recall and
  false-positive rate update, and the operating point moves along the ROC curve.
- `noise_explorer`: choose a noise level; noisy input and each denoiser's output, with PSNR.
- `linked_maps`: brush or hover points in one 2-D map; the same images light up in the others.
- `bits_explorer`: choose a bit budget; each method's reconstructions and error.
- `latent_explorer`: pick a latent; its top-activating inputs and what it writes back.

**How a figure is shown.** Importing this module enables the Altair renderer ``"aecore"``,
which chooses the output by where the kernel runs:

- Colab (``google.colab`` imported) and book builds (``AECORE_FIGURES=html``, which the book's
  Sphinx extension ``book/_ext/book_fixes.py`` sets before notebooks execute): ``text/html``
  that loads Vega, Vega-Lite and vega-embed (`VEGA_VERSIONS`) from a CDN and draws the chart.
  In the book, the extension points those script URLs at copies served with the site
  (``make`` fetches them with ``npm pack``), so the published page makes no request
  elsewhere. MyST-NB renders ``text/html`` as it is.
- Anywhere else (JupyterLab, VS Code; ``AECORE_FIGURES=vegalite`` forces it): the Vega-Lite
  mimetype alone, which JupyterLab draws offline with the Vega it bundles. Not ``text/html`` as
  well: JupyterLab ranks ``text/html`` (rank 50) before Vega-Lite (rank 57), would pick it and
  then need the CDN (or show nothing for an untrusted notebook).

**Figures tell the prose's numbers (the glue convention).** At its default setting a figure
shows exactly the numbers it was given or computed from its inputs, each written as
``format(value, spec)`` with the format spec the chapter passes in ``formats``. A chapter
glues the same values and quotes them with the same spec, ``{glue:text}`name:spec```, which
MyST-NB writes as ``format(value, spec)`` too, so the strings are identical. `shown` lists
them (``{quantity: string}``, also kept in the chart's ``usermeta``); the book's browser test
(``tests/site/test_interactive_site.py``) checks that each one appears in the drawn figure at
its default setting *and* among the page's glued numbers::

    fig = interactive.threshold_explorer(y_test, scores, threshold,
                                         formats={"precision": ".1%"})
    glue(detector_precision=report["precision"])   # prose: {glue:text}`detector_precision:.1%`
    fig

**Size.** A figure whose JSON would exceed `MAX_BYTES` (1 MB) is refused with a ValueError
that says which argument to shrink; `page_weight` gives a figure's bytes in a page.
"""

from __future__ import annotations

import base64
import html
import json
import math
import numbers
import os
import struct
import sys
import uuid
import zlib

import altair as alt
import numpy as np

__all__ = ["latent_plane", "threshold_explorer", "noise_explorer", "linked_maps",
           "bits_explorer", "latent_explorer", "shown", "page_weight", "to_html",
           "VEGA_VERSIONS", "MAX_BYTES"]

# The JavaScript the figures run: the versions Altair 5.5 loads (Vega 5, Vega-Lite 5.20.1,
# vega-embed 6), pinned to the newest release of each major version. The Makefile fetches the
# same versions for the book (tests/test_interactive.py checks that they agree).
VEGA_VERSIONS = {"vega": "5.33.1", "vega-lite": "5.20.1", "vega-embed": "6.29.0"}
CDN = "https://cdn.jsdelivr.net/npm"
SCRIPT_URLS = [f"{CDN}/{name}@{version}/build/{name}.min.js"
               for name, version in VEGA_VERSIONS.items()]
VEGALITE_MIMETYPE = "application/vnd.vegalite.v5+json"
MAX_BYTES = 1_000_000
EMBED_OPTIONS = {"renderer": "svg", "actions": False}  # SVG: text a reader's tools can read

# Colours: dark text on a white card (WCAG AA in light and dark mode), Okabe-Ito hues.
TEXT, MUTED, FADED = "#1b1b1b", "#595959", "#d4d4d4"
NORMAL, ANOMALOUS, MARK = "#0072B2", "#D55E00", "#000000"
METHOD_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]


# -- checks -----------------------------------------------------------------------------------
def _array(name, value, ndim=None, dtype=float):
    try:
        a = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}.") \
            from None
    if ndim is not None and a.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}.")
    if a.size == 0:
        raise ValueError(f"{name} must not be empty.")
    if dtype is float and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf).")
    return a


def _images(name, value, lead=1):
    """Images with `lead` leading axes: (..., H, W), (..., H, W, 1) or (..., H, W, 3)."""
    a = _array(name, value)
    if a.ndim == lead + 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == lead + 2 or (a.ndim == lead + 3 and a.shape[-1] == 3)):
        raise ValueError(f"{name} must be images of shape {'(n, ' * lead}H, W) with an "
                         f"optional channel axis of 1 or 3, got shape {a.shape}.")
    return a


def _labels(name, value, n, classes):
    a = np.asarray(value)
    if a.shape != (n,):
        raise ValueError(f"{name} must have one entry per point, shape ({n},), got {a.shape}.")
    if not np.issubdtype(a.dtype, np.integer) or a.min() < 0 or a.max() >= classes:
        raise ValueError(f"{name} must be integer class indices in [0, {classes}), got "
                         f"values from {a.min()} to {a.max()}.")
    return a.astype(int)


def _level(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    return float(f"{float(value):.12g}")  # the same double in Python, JSON and the browser


def _formats(formats, defaults):
    formats = dict(formats or {})
    unknown = set(formats) - set(defaults)
    if unknown:
        raise ValueError(f"formats has unknown keys {sorted(unknown)}; known: {sorted(defaults)}.")
    merged = {**defaults, **formats}
    for key, spec in merged.items():
        try:
            _fmt(1, spec)
        except (ValueError, TypeError, IndexError):
            raise ValueError(f"formats[{key!r}] = {spec!r} is not a format spec such as "
                             "'.3f' or '.1%'.") from None
    return merged


def _fmt(value, spec):
    if spec[-1:] in ("d", "n", "b", "o", "x", "X", "c"):
        return format(int(value), spec)
    return format(float(value), spec)


# -- images -----------------------------------------------------------------------------------
def _png_bytes(pixels) -> bytes:
    """A PNG file of 8-bit pixels, greyscale ``(H, W)`` or RGB ``(H, W, 3)`` (zlib only: each
    row filtered with whichever of none, Sub and Up leaves the smallest residuals)."""
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    rows = pixels.reshape(h, w * channels).astype(np.int16)
    previous = np.zeros(w * channels, np.int16)
    raw = bytearray()
    for row in rows:
        left = np.concatenate([np.zeros(channels, np.int16), row[:-channels]])
        options = [(0, row), (1, (row - left) % 256), (2, (row - previous) % 256)]
        kind, data = min(options, key=lambda o: int(np.abs(o[1].astype(np.uint8).view(np.int8)
                                                          .astype(np.int16)).sum()))
        raw += bytes([kind]) + data.astype(np.uint8).tobytes()
        previous = row

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", w, h, 8, 0 if channels == 1 else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def _png(image, vmin=0.0, vmax=1.0, cmap=None) -> str:
    """One image as a PNG data URI: greyscale in [vmin, vmax], or through a colormap."""
    a = np.asarray(image, dtype=np.float64)
    scaled = np.clip((a - vmin) / (vmax - vmin if vmax > vmin else 1.0), 0.0, 1.0)
    if cmap is not None:
        from matplotlib import colormaps

        scaled = colormaps[cmap](scaled)[..., :3]
    pixels = (scaled * 255).round().astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(_png_bytes(pixels)).decode("ascii")


# -- the finished chart -----------------------------------------------------------------------
def _finish(chart, figure, description, shows):
    """Style, describe and check a figure: white card, dark text, its description and the
    strings it shows at its default setting (`shown`), and its size."""
    if isinstance(chart, alt.ConcatChart):
        chart = chart.properties(align="none")  # stacked on a phone, panels keep to the left
    chart = chart.properties(
        description=description,
        usermeta={"embedOptions": EMBED_OPTIONS,  # vega-embed reads these (JupyterLab too)
                  "aecore": {"figure": figure, "shows": shows}},
    ).configure(
        background="#ffffff", padding=8, font="system-ui, -apple-system, 'Segoe UI', sans-serif",
    ).configure_view(stroke=None).configure_axis(
        labelColor=TEXT, titleColor=TEXT, domainColor=MUTED, tickColor=MUTED,
        gridColor="#e8e8e8", labelFontSize=11, titleFontSize=12, titleFontWeight="normal",
    ).configure_legend(
        labelColor=TEXT, titleColor=TEXT, labelFontSize=11, titleFontSize=12,
        titleFontWeight="normal", orient="bottom", direction="horizontal", columns=4,
    ).configure_title(
        color=TEXT, fontSize=13, fontWeight="normal", anchor="start",
    ).configure_mark(aria=False).configure_text(color=TEXT, fontSize=12).configure_concat(
        spacing=24)
    size = len(_spec_json(chart.to_dict()))
    if size > MAX_BYTES:
        raise ValueError(f"{figure}: the figure would add {size / 1e6:.2f} MB to its page, more "
                         f"than {MAX_BYTES / 1e6:.0f} MB: pass fewer images or points.")
    return chart


def shown(chart) -> dict:
    """The strings the figure shows at its default setting, ``{quantity: string}``: what the
    chapter's prose must quote with the same format spec (see the module's docstring)."""
    spec = chart.to_dict() if hasattr(chart, "to_dict") else chart
    return dict(spec.get("usermeta", {}).get("aecore", {}).get("shows", {}))


def page_weight(chart) -> int:
    """Bytes the figure adds to a page (its HTML, data included)."""
    return len(to_html(chart.to_dict() if hasattr(chart, "to_dict") else chart).encode())


def _description(spec) -> str:
    return spec.get("description") or "An interactive figure."


# -- the renderer -----------------------------------------------------------------------------
def _spec_json(spec) -> str:
    # "</" never closes the <script> the spec sits in
    return json.dumps(spec, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


_STYLE = """<style>
.aecore-figure .vega-bindings{display:flex;flex-wrap:wrap;gap:4px 20px;margin:6px 0 2px}
.aecore-figure .vega-bind label{display:flex;flex-wrap:wrap;align-items:center;gap:4px 8px;
  color:#1b1b1b;
  font:14px system-ui,-apple-system,'Segoe UI',sans-serif}
.aecore-figure .vega-bind input[type=range]{width:150px;accent-color:#0072B2}
.aecore-figure .vega-bind select{font:inherit;color:#1b1b1b;background:#fff;
  border:1px solid #767676;border-radius:3px;padding:2px 4px}
.aecore-figure .vega-bind label>input+span{display:none}
.aecore-figure :focus-visible{outline:2px solid #0072B2;outline-offset:2px}
/* narrower than the figure even after the reflow (a phone): scale the drawing down
   rather than scroll sideways */
.aecore-figure .vega-embed{max-width:100%}
.aecore-figure .vega-embed svg{max-width:100%;height:auto}
</style>"""

# Loads the three scripts once per page (in order), then draws the chart; when the page is
# narrower than the figure, it draws it again with fewer panels per row (a top-level concat).
_SCRIPT = """<script type="text/javascript">
(function (spec, id, urls) {
  var w = window, box = document.getElementById(id), card = box.parentElement;
  function load(url) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = url; s.onload = resolve;
      s.onerror = function () { reject(new Error("could not load " + url)); };
      document.head.appendChild(s);
    });
  }
  if (!w.aecoreVega) {
    w.aecoreVega = typeof w.vegaEmbed === "function" ? Promise.resolve() : (function () {
      var amd = w.define; w.define = undefined;  // the UMD builds then set window globals
      return urls.reduce(function (p, u) { return p.then(function () { return load(u); }); },
                         Promise.resolve()).finally(function () { w.define = amd; });
    })();
  }
  function quiet(vg) {  // the helper marks Vega-Lite adds for selections carry no text
    (function walk(marks) {
      (marks || []).forEach(function (m) {
        if (/_(voronoi|brush_bg|brush)$/.test(m.name || "")) m.aria = false;
        walk(m.marks);
      });
    })(vg.marks);
    return vg;
  }
  function draw(columns) {
    var s = JSON.parse(JSON.stringify(spec));
    if (s.concat) s.columns = columns;
    box.innerHTML = "";
    return w.vegaEmbed(box, s, Object.assign({patch: quiet}, EMBED)).then(function (result) {
      if (columns > 1 && card.scrollWidth > card.clientWidth + 1) {
        result.finalize();
        return draw(columns - 1);
      }
      return result;
    });
  }
  w.aecoreVega.then(function () {
    return draw(spec.concat ? (spec.columns || spec.concat.length) : 1);
  }).then(function (result) {
    (w.aecoreFigures = w.aecoreFigures || []).push({element: card, view: result.view});
    card.setAttribute("data-ready", "true");
  }).catch(function (error) {
    box.setAttribute("role", "alert");
    box.textContent = "This interactive figure could not be drawn (" + error.message + ").";
    card.setAttribute("data-ready", "error");
  });
})(SPEC, "ID", URLS);
</script>"""


def to_html(spec) -> str:
    """The figure as HTML that draws it in a browser: a white card, the spec, and a script
    that loads Vega from `SCRIPT_URLS` (the book serves its own copies instead)."""
    if hasattr(spec, "to_dict"):
        spec = spec.to_dict()
    element_id = f"aecore-figure-{uuid.uuid4().hex[:12]}"
    meta = spec.get("usermeta", {}).get("aecore", {})
    card = (f'<div class="aecore-figure" data-aecore-figure="{html.escape(meta.get("figure", ""))}"'
            f' data-shows="{html.escape(json.dumps(meta.get("shows", {})))}"'
            ' style="max-width:100%;overflow-x:auto;background:#fff;color:#1b1b1b;'
            'padding:4px;border-radius:4px;box-sizing:border-box">'
            f'<div id="{element_id}"></div></div>')
    script = (_SCRIPT.replace('"ID"', json.dumps(element_id))
              .replace("URLS", json.dumps(SCRIPT_URLS))
              .replace("EMBED", json.dumps(EMBED_OPTIONS))
              .replace("SPEC", _spec_json(spec)))  # last: nothing is replaced inside it
    return _STYLE + "\n" + card + "\n" + script


def _mode() -> str:
    mode = os.environ.get("AECORE_FIGURES", "").strip().lower()
    if mode in ("html", "vegalite"):
        return mode
    return "html" if "google.colab" in sys.modules else "vegalite"


def render(spec: dict, **metadata):
    """Altair renderer ``"aecore"``: ``text/html`` on Colab and in book builds, the Vega-Lite
    mimetype elsewhere (see the module's docstring); ``text/plain`` is the description."""
    plain = _description(spec) + " (Drawn in JupyterLab, Colab and the book.)"
    if _mode() == "html":
        return {"text/html": to_html(spec), "text/plain": plain}
    return {VEGALITE_MIMETYPE: spec, "text/plain": plain}


alt.renderers.register("aecore", render)
alt.renderers.enable("aecore")


# -- shared pieces ----------------------------------------------------------------------------
def _readout(rows, width, title=None, line_height=20):
    """A panel of text lines: `rows` are dicts with `key`, ``line`` (0, 1, ...) and ``text``."""
    lines = max(r["line"] for r in rows) + 1
    chart = alt.Chart(alt.InlineData(values=rows)).mark_text(
        align="left", baseline="middle", fontSize=13, color=TEXT, aria=True,
    ).encode(
        x=alt.value(0),
        y=alt.Y("line:O", axis=None, scale=alt.Scale(domain=list(range(lines)))),
        text="text:N", description="text:N",
    ).properties(width=width, height=lines * line_height)
    return chart.properties(title=title) if title else chart


def _evenly_spaced(values):
    steps = np.diff(values)
    return len(values) > 2 and np.allclose(steps, steps[0], rtol=1e-6, atol=0)


def _level_control(name, levels, default, label, option_labels):
    """A parameter choosing one of `levels` (sorted): a slider when they are evenly spaced,
    else a select. Returns the parameter and a filter expression ``datum.level`` matches."""
    levels = [float(v) for v in levels]
    if _evenly_spaced(np.array(levels)):
        step = _level(f"{name} step", levels[1] - levels[0])
        bind = alt.binding_range(min=levels[0], max=levels[-1], step=step, name=label)
    else:
        bind = alt.binding_select(options=levels, labels=option_labels, name=label)
    half = float(min(np.diff(levels))) / 2 if len(levels) > 1 else 0.5
    param = alt.param(name=name, value=default, bind=bind)
    return param, f"abs(datum.level - {name}) < {half!r}"


# -- 1. the VAE's latent plane ----------------------------------------------------------------
def latent_plane(decode_grid_images, grid_axis, codes, labels, class_names, *, point=None,
                 max_points=1000, seed=0, image_size=140):
    """A 2-D code plane: the codes of validation images coloured by class, beside the
    decoder's output at a chosen point.

    `decode_grid_images[i, j]` is the decoding of ``z = (grid_axis[i], grid_axis[j])``
    (shape ``(n, n, H, W)``, or ``(n * n, H, W)`` in that order); `grid_axis` is evenly spaced.
    `codes` ``(m, 2)`` and `labels` ``(m,)`` (indices into `class_names`) are the validation
    codes, of which at most `max_points` are drawn (a seeded sample). Two sliders choose the
    point, starting at `point` (default: the grid point nearest the origin); hovering over
    the plane previews the nearest grid point.
    """
    grid = _array("grid_axis", grid_axis, ndim=1)
    n = len(grid)
    if n < 2 or not np.all(np.diff(grid) > 0) or not np.allclose(
            np.diff(grid), grid[1] - grid[0], rtol=1e-6):
        raise ValueError("grid_axis must be at least 2 increasing, evenly spaced values, got "
                         f"{grid!r}.")
    images = _array("decode_grid_images", decode_grid_images)
    if images.shape[:2] != (n, n):
        if images.shape[0] != n * n:
            raise ValueError(f"decode_grid_images must have shape ({n}, {n}, H, W) or "
                             f"({n * n}, H, W) for a grid of {n} values, got {images.shape}.")
        images = images.reshape(n, n, *images.shape[1:])
    images = _images("decode_grid_images", images, lead=2)
    codes = _array("codes", codes, ndim=2)
    if codes.shape[1] != 2:
        raise ValueError(f"codes must have shape (m, 2), got {codes.shape}.")
    class_names = [str(c) for c in class_names]
    labels = _labels("labels", labels, len(codes), len(class_names))
    max_points = int(max_points)
    keep = np.arange(len(codes))
    if len(codes) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(codes), max_points, replace=False))

    grid = np.array([_level("grid_axis", v) for v in grid])
    step = _level("grid step", grid[1] - grid[0])
    if point is None:
        point = (0.0, 0.0)
    if len(point) != 2:
        raise ValueError(f"point must be (z1, z2), got {point!r}.")
    i0, j0 = (int(np.argmin(np.abs(grid - _level("point", p)))) for p in point)
    vmin, vmax = min(0.0, images.min()), max(1.0, images.max())
    cells = [{"i": i, "j": j, "z1": grid[i], "z2": grid[j],
              "where": f"z = ({grid[i]:.2f}, {grid[j]:.2f})",
              "alt": f"the decoder's output at z = ({grid[i]:.2f}, {grid[j]:.2f})",
              "url": _png(images[i, j], vmin, vmax)} for i in range(n) for j in range(n)]
    points = [{"z1": round(float(a), 4), "z2": round(float(b), 4), "class": class_names[c]}
              for (a, b), c in zip(codes[keep], labels[keep])]

    z1 = alt.param(name="z1", value=grid[i0], bind=alt.binding_range(
        min=grid[0], max=grid[-1], step=step, name="z₁ (horizontal)"))
    z2 = alt.param(name="z2", value=grid[j0], bind=alt.binding_range(
        min=grid[0], max=grid[-1], step=step, name="z₂ (vertical)"))
    hover = alt.selection_point(name="hover", fields=["i", "j"], on="pointerover",
                                nearest=True, clear="pointerout", empty=False)
    half = step / 2
    chosen = (f"length(data('hover_store')) ? vlSelectionTest('hover_store', datum) : "
              f"abs(datum.z1 - z1) < {half!r} && abs(datum.z2 - z2) < {half!r}")
    domain = [grid[0] - half, grid[-1] + half]
    x = alt.X("z1:Q", title="z₁", scale=alt.Scale(domain=domain, nice=False))
    y = alt.Y("z2:Q", title="z₂", scale=alt.Scale(domain=domain, nice=False))
    cell_data = alt.InlineData(values=cells)
    scatter = alt.Chart(alt.InlineData(values=points)).mark_circle(
        size=14, opacity=0.75, clip=True, aria=False,
    ).encode(x=x, y=y, color=alt.Color("class:N", title="class",
                                       scale=alt.Scale(scheme="tableau10"),
                                       sort=class_names))
    targets = alt.Chart(cell_data).mark_point(opacity=0, aria=False).encode(
        x=x, y=y).add_params(hover)
    marker = alt.Chart(cell_data).transform_filter(chosen).mark_square(
        size=160, filled=False, color=MARK, strokeWidth=2,
    ).encode(x=x, y=y)
    plane = alt.layer(scatter, targets, marker).add_params(z1, z2).properties(
        width=250, height=250, title="Validation codes; hover to preview")
    decoded = alt.layer(
        alt.Chart(cell_data).transform_filter(chosen).mark_image(
            width=image_size, height=image_size, smooth=False, aria=True,
        ).encode(x=alt.value(image_size / 2), y=alt.value(image_size / 2), url="url:N",
                 description="alt:N"),
        alt.Chart(cell_data).transform_filter(chosen).mark_text(
            fontSize=13, baseline="top", aria=True,
        ).encode(x=alt.value(image_size / 2), y=alt.value(image_size + 8), text="where:N",
                 description="where:N"),
    ).properties(width=image_size, height=image_size + 28, title="Decoded there")
    description = (
        f"Interactive figure: the 2-D codes of {len(keep)} validation images, coloured by "
        f"class, beside the decoder's output at a chosen point of the code plane (a {n} by {n} "
        f"grid from {grid[0]:.2f} to {grid[-1]:.2f}). Two sliders, z1 and z2, choose the point; "
        f"hovering over the plane previews the nearest grid point. Default point: "
        f"{cells[i0 * n + j0]['where']}.")
    return _finish(alt.concat(plane, decoded), "latent_plane", description, {})


# -- 2. the anomaly threshold -----------------------------------------------------------------
def _nice_step(span, steps):
    raw = span / steps
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def threshold_explorer(y_true, scores, threshold, *, formats=None, bins=40, steps=200,
                       max_roc_points=300):
    """Slide a threshold over the score histograms of normal (``y_true == 0``) and anomalous
    (``1``) images: the images flagged (``score > threshold``, as
    `aecore.anomaly.detection_report`), precision, recall and false-positive rate update, and
    the operating point moves along the ROC curve.

    The slider starts at `threshold` exactly, where the figure shows the numbers of
    ``detection_report(y_true, scores, threshold)``. `formats` sets how each is written
    (keys ``threshold``, ``flagged``, ``precision``, ``recall``, ``false_positive_rate``);
    use the format specs the chapter's prose uses. The slider moves in about `steps` steps
    over the scores' range (its top 0.5 % folded into the last histogram bin).
    """
    y = np.asarray(y_true)
    scores = _array("scores", scores, ndim=1)
    if y.shape != scores.shape or not np.isin(y, (0, 1)).all():
        raise ValueError(f"y_true must be 0 (normal) or 1 (anomaly) for each score, shape "
                         f"{scores.shape}, got shape {y.shape} and values {np.unique(y)[:5]}.")
    if y.min() == y.max():
        raise ValueError("y_true must contain both normal (0) and anomalous (1) images.")
    _level("threshold", threshold)
    threshold = float(threshold)  # exactly the chapter's (JSON keeps a float's every digit)
    fmt = _formats(formats, {"threshold": ".4g", "flagged": "d", "precision": ".3f",
                             "recall": ".3f", "false_positive_rate": ".3f"})
    y = y.astype(int)
    normal, anomalous = np.sort(scores[y == 0]), np.sort(scores[y == 1])

    lo, hi = float(scores.min()), float(np.quantile(scores, 0.995))
    lo, hi = min(lo, threshold), max(hi, threshold)
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    step = _nice_step(hi - lo, steps)
    k_lo = math.floor((lo - threshold) / step)
    k_hi = math.ceil((hi - threshold) / step)
    ks = np.arange(k_lo, k_hi + 1)
    ts = threshold + ks * step
    ts[ks == 0] = threshold  # exactly the chapter's threshold
    fp = len(normal) - np.searchsorted(normal, ts, side="right")  # score > t
    tp = len(anomalous) - np.searchsorted(anomalous, ts, side="right")
    flagged = tp + fp
    precision = np.where(flagged > 0, tp / np.maximum(flagged, 1), 0.0)
    recall = tp / len(anomalous)
    fpr = fp / len(normal)

    def lines(i):
        return [f"threshold {_fmt(ts[i], fmt['threshold'])}",
                f"flagged {_fmt(flagged[i], fmt['flagged'])} of {len(scores)}"
                f" ({_fmt(tp[i], fmt['flagged'])} anomalous)",
                f"precision {_fmt(precision[i], fmt['precision'])}",
                f"recall {_fmt(recall[i], fmt['recall'])}",
                f"false-positive rate {_fmt(fpr[i], fmt['false_positive_rate'])}"]

    rows, operating = [], []
    for i, k in enumerate(ks):
        rows += [{"k": int(k), "line": j, "text": t} for j, t in enumerate(lines(i))]
        operating.append({"k": int(k), "fpr": float(fpr[i]), "tpr": float(recall[i]),
                          "t": float(ts[i])})
    i0 = int(np.flatnonzero(ks == 0)[0])
    shows = {"threshold": _fmt(threshold, fmt["threshold"]),
             "flagged": _fmt(flagged[i0], fmt["flagged"]),
             "precision": _fmt(precision[i0], fmt["precision"]),
             "recall": _fmt(recall[i0], fmt["recall"]),
             "false_positive_rate": _fmt(fpr[i0], fmt["false_positive_rate"])}

    edges = np.linspace(lo, hi, int(bins) + 1)
    histogram = []
    for name, values in (("normal", normal), ("anomalous", anomalous)):
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=edges)
        histogram += [{"class": name, "start": float(a), "end": float(b),
                       "share": float(c / len(values))}
                      for a, b, c in zip(edges[:-1], edges[1:], counts)]
    from sklearn.metrics import roc_curve

    roc_fpr, roc_tpr, _ = roc_curve(y, scores)
    keep = np.unique(np.linspace(0, len(roc_fpr) - 1, min(len(roc_fpr), max_roc_points))
                     .round().astype(int))
    roc = [{"fpr": float(a), "tpr": float(b)} for a, b in zip(roc_fpr[keep], roc_tpr[keep])]

    t = alt.param(name="threshold", value=threshold, bind=alt.binding_range(
        min=float(ts[0]), max=float(ts[-1]), step=step, name="Threshold"))
    current = f"abs(datum.k - round((threshold - {threshold!r}) / {step!r})) < 0.5"
    colour = alt.Color("class:N", title="test images", sort=["normal", "anomalous"],
                       scale=alt.Scale(domain=["normal", "anomalous"],
                                       range=[NORMAL, ANOMALOUS]))
    x = alt.X("start:Q", title="anomaly score", scale=alt.Scale(domain=[lo, hi], nice=False))
    bars = alt.Chart(alt.InlineData(values=histogram)).mark_bar(opacity=0.55, aria=False).encode(
        x=x, x2="end:Q", y=alt.Y("share:Q", title="share of its class", stack=None),
        y2=alt.datum(0), color=colour)
    rule = alt.Chart(alt.InlineData(values=operating)).transform_filter(current).mark_rule(
        color=MARK, strokeWidth=2).encode(x=alt.X("t:Q"))
    hist = alt.layer(bars, rule).add_params(t).properties(
        width=270, height=190, title="Scores of the test images")
    axes = dict(scale=alt.Scale(domain=[0, 1]))
    curve = alt.Chart(alt.InlineData(values=roc)).mark_line(color=MUTED, aria=False).encode(
        x=alt.X("fpr:Q", title="false-positive rate", **axes),
        y=alt.Y("tpr:Q", title="recall (true-positive rate)", **axes))
    dot = alt.Chart(alt.InlineData(values=operating)).transform_filter(current).mark_circle(
        size=120, color=ANOMALOUS, stroke=MARK, strokeWidth=1.5, opacity=1,
    ).encode(x="fpr:Q", y="tpr:Q")
    roc_chart = alt.layer(curve, dot).properties(width=190, height=190, title="ROC curve")
    readout = _readout(rows, 250, "At this threshold").transform_filter(current)
    description = (
        f"Interactive figure: histograms of the anomaly scores of {len(normal)} normal and "
        f"{len(anomalous)} anomalous test images, with a slider for the threshold (images "
        f"scoring above it are flagged) and the ROC curve with the current operating point. "
        f"At the default threshold {shows['threshold']}: {shows['flagged']} images flagged, "
        f"precision {shows['precision']}, recall {shows['recall']}, false-positive rate "
        f"{shows['false_positive_rate']}.")
    return _finish(alt.concat(hist, roc_chart, readout), "threshold_explorer", description,
                   shows)


# -- 3 and 5. one image grid per level (noise level, bit budget) ------------------------------
def _level_explorer(figure, results, originals, *, level, level_name, level_label, value_name,
                    value_label, value_fmt, originals_name, max_images, image_size, log_x,
                    description):
    if not isinstance(results, dict) or not results:
        raise ValueError(f"results must be a non-empty dict {{{level_name}: {{method: "
                         f"(images, {value_name})}}}}, got {type(results).__name__}.")
    levels = sorted(_level(f"a {level_name} of results", v) for v in results)
    if len(set(levels)) != len(levels):
        raise ValueError(f"results has two {level_name}s that are the same number.")
    by_level = {_level(level_name, k): v for k, v in results.items()}
    originals = _images(originals_name, originals)
    n = min(len(originals), int(max_images))
    if n < 1:
        raise ValueError("max_images must be at least 1.")
    methods = []
    for lv in levels:
        entry = by_level[lv]
        if not isinstance(entry, dict) or not entry:
            raise ValueError(f"results[{lv!r}] must be a non-empty dict {{method: (images, "
                             f"{value_name})}}.")
        for method, pair in entry.items():
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise ValueError(f"results[{lv!r}][{method!r}] must be a pair (images, "
                                 f"{value_name}).")
            imgs = _images(f"results[{lv!r}][{method!r}] images", pair[0])
            if imgs.shape[1:] != originals.shape[1:] or len(imgs) < n:
                raise ValueError(f"results[{lv!r}][{method!r}] images must be at least {n} "
                                 f"images of shape {originals.shape[1:]}, got {imgs.shape}.")
            _level(f"results[{lv!r}][{method!r}] {value_name}", pair[1])
            if str(method) not in methods:
                methods.append(str(method))
    if level is None:
        level = levels[0]
    level = _level(level_name, level)
    if level not in levels:
        raise ValueError(f"{level_name}={level!r} is not one of the levels of results: "
                         f"{levels}.")

    columns = [originals_name] + methods
    cells, headers, values = [], [], []
    for r in range(n):
        cells.append({"level": -1.0, "col": originals_name, "row": r,
                      "url": _png(originals[r]), "alt": f"{originals_name} image {r + 1}"})
    for lv in levels:
        for method in methods:
            pair = {str(k): v for k, v in by_level[lv].items()}.get(method)
            value = "—" if pair is None else _fmt(pair[1], value_fmt)
            headers.append({"level": lv, "col": method, "line": 1, "text": value})
            if pair is None:
                continue
            values.append({"level": lv, "method": method, "value": float(pair[1])})
            imgs = _images("images", pair[0])
            cells += [{"level": lv, "col": method, "row": r, "url": _png(imgs[r]),
                       "alt": f"{method}, image {r + 1}, at {level_label(lv)}"}
                      for r in range(n)]
    headers += [{"level": -1.0, "col": c, "line": 0, "text": c} for c in columns]
    shows = {str(m): _fmt(v, value_fmt) for m, (_, v) in
             ((str(k), p) for k, p in by_level[level].items())}

    param, current = _level_control(
        "level", levels, level, level_name[0].upper() + level_name[1:],
        [level_label(v) for v in levels])
    current_or_always = f"datum.level == -1 || ({current})"
    width = image_size * len(columns)
    x = alt.X("col:N", axis=None, sort=columns, scale=alt.Scale(domain=columns))
    header = alt.Chart(alt.InlineData(values=headers)).transform_filter(
        current_or_always).mark_text(
        fontSize=11.5, baseline="middle", aria=True,
    ).encode(x=x, y=alt.Y("line:O", axis=None, scale=alt.Scale(domain=[0, 1])), text="text:N",
             description="text:N").properties(
        width=width, height=36)
    grid = alt.Chart(alt.InlineData(values=cells)).transform_filter(current_or_always).mark_image(
        width=image_size - 6, height=image_size - 6, smooth=False, aria=True,
    ).encode(x=x, y=alt.Y("row:O", axis=None), url="url:N", description="alt:N").properties(
        width=width, height=image_size * n)
    caption = alt.Chart(alt.InlineData(values=[{"level": lv,
                                                "text": f"{level_label(lv)}: {value_label}"}
                                         for lv in levels])).transform_filter(current).mark_text(
        fontSize=13, align="left", aria=True).encode(
        x=alt.value(0), y=alt.value(8), text="text:N", description="text:N").properties(
        width=width, height=16)
    images = alt.vconcat(caption, header, grid.add_params(param), spacing=2)
    colour = alt.Color("method:N", title=None, sort=methods, scale=alt.Scale(
        domain=methods, range=METHOD_COLOURS[:len(methods)]), legend=alt.Legend(columns=2))
    xs = alt.X("level:Q", title=level_name, scale=alt.Scale(type="log", base=2) if log_x
               else alt.Scale(zero=False), axis=alt.Axis(values=levels))
    line = alt.Chart(alt.InlineData(values=values)).mark_line(point=True).encode(
        x=xs, y=alt.Y("value:Q", title=value_name, scale=alt.Scale(zero=False),
                      axis=alt.Axis(orient="right")),  # stacked, the panels stay flush left
        color=colour)
    rule = alt.Chart(alt.InlineData(values=[{"level": lv} for lv in levels])).transform_filter(
        current).mark_rule(color=MARK, strokeDash=[4, 3]).encode(x="level:Q")
    trend = alt.layer(line, rule).properties(width=220, height=190,
                                             title=f"{value_name} by {level_name}")
    text = description(len(levels), levels, level, shows)
    return _finish(alt.concat(images, trend), figure, text, shows)


def noise_explorer(results, clean, *, sigma=None, fmt=".1f", max_images=4, image_size=72):
    """Choose a noise level σ: the noisy input, the denoising autoencoder's output and the
    best classical denoiser's output, each with its PSNR.

    `results` is ``{sigma: {method: (images, psnr_db)}}``, e.g. ``{0.3: {"noisy input":
    (x_noisy, 17.2), "denoising AE": (x_dae, 24.1), "BM3D": (x_bm3d, 23.4)}}``: images
    ``(n, H, W)`` of the same `clean` images ``(n, H, W)``, and the PSNR (dB) the chapter
    reports. The figure starts at `sigma` (default: the lowest), where it shows each PSNR as
    ``format(psnr, fmt)``.
    """
    def describe(k, levels, level, shows):
        return (f"Interactive figure: {min(len(clean), max_images)} test images at {k} noise "
                f"levels (σ from {levels[0]:g} to {levels[-1]:g}): clean, "
                + ", ".join(shows) + ", with each one's PSNR, and the PSNR of each by noise "
                f"level. A control chooses σ. At σ = {level:g}: "
                + "; ".join(f"{m} {v} dB" for m, v in shows.items()) + ".")
    return _level_explorer("noise_explorer", results, clean, level=sigma, level_name="noise σ",
                           level_label=lambda v: f"σ = {v:g}", value_name="PSNR (dB)",
                           value_label="PSNR in dB", value_fmt=fmt, originals_name="clean",
                           max_images=max_images, image_size=image_size, log_x=False,
                           description=describe)


def bits_explorer(results, originals, *, budget=None, fmt=".4f", max_images=4, image_size=72):
    """Choose a bit budget: each method's reconstructions (VQ, FSQ, PCA, ...) at that
    budget, with its error.

    `results` is ``{bits: {method: (images, mse)}}``: reconstructions ``(n, H, W)`` of the
    same `originals` ``(n, H, W)`` and the mean squared error the chapter reports; a method
    missing at a budget shows as "—". Starts at `budget` (default: the smallest), where it
    shows each error as ``format(mse, fmt)``. Budgets that double are drawn on a log axis.
    """
    def describe(k, levels, level, shows):
        return (f"Interactive figure: {min(len(originals), max_images)} test images "
                f"reconstructed at {k} bit budgets ({levels[0]:g} to {levels[-1]:g} bits per "
                "image) by " + ", ".join(shows) + ", with each one's mean squared error, and "
                f"the error of each by budget. A control chooses the budget. At {level:g} "
                "bits: " + "; ".join(f"{m} {v}" for m, v in shows.items()) + ".")
    levels = sorted(_level("a budget of results", v) for v in (results or {}))
    ratios = np.diff(np.log2(levels)) if levels and min(levels) > 0 else None
    log_x = ratios is not None and len(levels) > 2 and np.allclose(ratios, ratios[0])
    return _level_explorer("bits_explorer", results, originals, level=budget,
                           level_name="bit budget", level_label=lambda v: f"{v:g} bits",
                           value_name="mean squared error", value_label="mean squared error",
                           value_fmt=fmt, originals_name="original", max_images=max_images,
                           image_size=image_size, log_x=log_x, description=describe)


# -- 4. linked 2-D maps -----------------------------------------------------------------------
def linked_maps(maps, labels, thumbnails, *, class_names=None, max_points=400, seed=0,
                map_size=200):
    """Two to four 2-D maps of the same images (e.g. ``{"autoencoder": z_ae, "PCA": z_pca,
    "t-SNE": z_tsne}``, each ``(n, 2)``): drag a rectangle in one map and the same images
    light up in all of them; hovering a point shows its image and rings it in every map; a
    select highlights one class and a slider steps through the images from the keyboard.
    At most `max_points` images are drawn (a seeded sample)."""
    if not isinstance(maps, dict) or not 2 <= len(maps) <= 4:
        raise ValueError("maps must be a dict of 2 to 4 maps {name: array (n, 2)}, got "
                         f"{maps!r:.80}.")
    names = [str(k) for k in maps]
    arrays = [_array(f"maps[{k!r}]", v, ndim=2) for k, v in maps.items()]
    n = len(arrays[0])
    for name, a in zip(names, arrays):
        if a.shape != (n, 2):
            raise ValueError(f"maps[{name!r}] must have shape ({n}, 2) like the first map, got "
                             f"{a.shape}.")
    labels = np.asarray(labels)
    classes = int(labels.max()) + 1 if labels.size and np.issubdtype(labels.dtype, np.integer) \
        else 0
    class_names = [str(c) for c in (class_names or range(classes))]
    labels = _labels("labels", labels, n, len(class_names))
    thumbnails = _images("thumbnails", thumbnails)
    if len(thumbnails) != n:
        raise ValueError(f"thumbnails must have one image per point ({n}), got {len(thumbnails)}.")
    keep = np.arange(n)
    if n > int(max_points):
        keep = np.sort(np.random.default_rng(seed).choice(n, int(max_points), replace=False))
    rows = []
    for index, i in enumerate(keep):
        row = {"index": index, "id": int(i), "label": int(labels[i]),
               "class": class_names[labels[i]], "url": _png(thumbnails[i]),
               "caption": f"image {int(i)}: {class_names[labels[i]]}"}
        for m, a in enumerate(arrays):
            row[f"x{m}"], row[f"y{m}"] = (round(float(v), 4) for v in a[i])
        rows.append(row)
    data = alt.InlineData(values=rows)

    brush = alt.selection_interval(name="brush", encodings=["x", "y"])
    hover = alt.selection_point(name="hover", fields=["id"], on="pointerover", nearest=True,
                                clear="pointerout", empty=False)
    cls = alt.param(name="cls", value=-1, bind=alt.binding_select(
        options=[-1] + list(range(len(class_names))), labels=["all classes"] + class_names,
        name="Highlight class"))
    pick = alt.param(name="image_no", value=0, bind=alt.binding_range(
        min=0, max=len(rows) - 1, step=1, name="Image no."))
    lit = ("(cls < 0 || datum.label == cls) && "
           "(!length(data('brush_store')) || vlSelectionTest('brush_store', datum))")
    shown_one = ("length(data('hover_store')) ? vlSelectionTest('hover_store', datum) : "
                 "datum.index == image_no")
    panels = []
    for m, name in enumerate(names):
        x = alt.X(f"x{m}:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=6))
        y = alt.Y(f"y{m}:Q", axis=None, scale=alt.Scale(zero=False, nice=False, padding=6))
        points = alt.Chart(data).mark_circle(size=22, opacity=0.85, aria=False).encode(
            x=x, y=y,
            color=alt.condition(lit, alt.Color("class:N", title="class", sort=class_names,
                                               scale=alt.Scale(scheme="tableau10")),
                                alt.value(FADED)),
            order=alt.condition(lit, alt.value(1), alt.value(0)),
        ).add_params(brush, hover)
        ring = alt.Chart(data).transform_filter(shown_one).mark_point(
            size=180, color=MARK, strokeWidth=2, filled=False).encode(x=x, y=y)
        layer = alt.layer(points, ring).properties(width=map_size, height=map_size, title=name)
        panels.append(layer.add_params(cls, pick) if m == 0 else layer)
    count = alt.Chart(data).transform_calculate(on=f"({lit}) ? 1 : 0").transform_aggregate(
        lit_count="sum(on)").transform_calculate(
        text=f"datum.lit_count + ' of {len(rows)} images highlighted'").mark_text(
        align="left", fontSize=13, aria=True).encode(x=alt.value(0), y=alt.value(8),
                                                     text="text:N", description="text:N")
    image = alt.Chart(data).transform_filter(shown_one).mark_image(
        width=112, height=112, smooth=False, aria=True).encode(
        x=alt.value(56), y=alt.value(84), url="url:N", description="caption:N")
    caption = alt.Chart(data).transform_filter(shown_one).mark_text(
        fontSize=13, baseline="top", aria=True).encode(
        x=alt.value(56), y=alt.value(148), text="caption:N", description="caption:N")
    info = alt.layer(count, image, caption).properties(width=map_size, height=170,
                                                        title="Hovered image")
    description = (
        f"Interactive figure: {len(rows)} images placed by {len(names)} maps ("
        + ", ".join(names) + "), coloured by class. Dragging a rectangle in one map highlights "
        "the same images in every map; hovering a point shows its image and rings it in every "
        "map; a select highlights one class and a slider steps through the images.")
    return _finish(alt.concat(*panels, info), "linked_maps", description, {})


# -- 6. sparse autoencoder latents ------------------------------------------------------------
def latent_explorer(top_images, directions, stats, *, latents=None, latent=None, formats=None,
                    image_size=48, per_row=4):
    """Pick a latent (a select, or click its bar): its top-activating inputs and what it writes
    back (its decoder direction, red positive and blue negative).

    `top_images` ``(L, k, H, W)`` holds the `k` inputs on which each of `L` latents is largest
    (a list of ``(k_i, H, W)`` arrays if some have fewer, as `aecore.interpret.top_inputs`
    gives); `directions` ``(L, H, W)`` each latent's decoder direction; `stats`
    ``{name: (L,) values}`` the numbers shown for the chosen latent (the first is drawn as a
    bar per latent). `latents` are the latents' ids (default ``0 ... L-1``); the figure starts
    at `latent` (default: the first), where it shows each stat as ``format(value,
    formats[name])`` (default ``".3g"``).
    """
    directions = _images("directions", directions)
    count = len(directions)
    if isinstance(top_images, np.ndarray) or not isinstance(top_images, (list, tuple)):
        top = _images("top_images", top_images, lead=2)
        tops = list(top)
    else:
        tops = [_images(f"top_images[{i}]", t) for i, t in enumerate(top_images)]
    if len(tops) != count:
        raise ValueError(f"top_images must hold one set of images per latent ({count}, like "
                         f"directions), got {len(tops)}.")
    if any(t.shape[1:] != tops[0].shape[1:] for t in tops):
        raise ValueError("top_images must all have the same image shape.")
    if not isinstance(stats, dict) or not stats:
        raise ValueError("stats must be a non-empty dict {name: (L,) values}.")
    stats = {str(k): _array(f"stats[{k!r}]", v, ndim=1) for k, v in stats.items()}
    for name, v in stats.items():
        if len(v) != count:
            raise ValueError(f"stats[{name!r}] must have one value per latent ({count}), got "
                             f"{len(v)}.")
    ids = list(range(count)) if latents is None else [int(v) for v in latents]
    if len(ids) != count or len(set(ids)) != count:
        raise ValueError(f"latents must be {count} distinct ids, got {latents!r}.")
    latent = ids[0] if latent is None else int(latent)
    if latent not in ids:
        raise ValueError(f"latent={latent} is not one of latents {ids}.")
    fmt = _formats(formats, {name: ".3g" for name in stats})
    first = next(iter(stats))

    bars, cells, texts, dirs = [], [], [], []
    for position, (lid, top, direction) in enumerate(zip(ids, tops, directions)):
        bars.append({"latent": lid, "value": float(stats[first][position])})
        for r, img in enumerate(top):
            cells.append({"latent": lid, "col": r % per_row, "row": r // per_row,
                          "url": _png(img, min(0.0, img.min()), max(1.0, img.max())),
                          "alt": f"input {r + 1} on which latent {lid} is largest"})
        scale = float(np.abs(direction).max()) or 1.0
        dirs.append({"latent": lid, "url": _png(direction, -scale, scale, cmap="RdBu_r"),
                     "alt": f"decoder direction of latent {lid}"})
        texts.append({"latent": lid, "line": 0, "text": f"latent {lid}"})
        texts += [{"latent": lid, "line": j + 1,
                   "text": f"{name} {_fmt(v[position], fmt[name])}"}
                  for j, (name, v) in enumerate(stats.items())]
    position = ids.index(latent)
    shows = {name: _fmt(v[position], fmt[name]) for name, v in stats.items()}

    pick = alt.selection_point(
        name="latent_pick", fields=["latent"], value=[{"latent": latent}], on="click", clear=False,
        bind=alt.binding_select(options=ids, labels=[f"latent {i}" for i in ids],
                                name="Latent"))
    bar_chart = alt.Chart(alt.InlineData(values=bars)).mark_bar().encode(
        x=alt.X("latent:O", title="latent (click a bar)", sort=ids,
                axis=alt.Axis(labels=count <= 24)),
        y=alt.Y("value:Q", title=first),
        color=alt.condition(pick, alt.value(ANOMALOUS), alt.value("#8c8c8c")),
    ).add_params(pick).properties(width=min(320, max(160, 8 * count)), height=170,
                                  title=f"{first} of each latent")
    rows = max(math.ceil(len(t) / per_row) for t in tops)
    grid = alt.Chart(alt.InlineData(values=cells)).transform_filter(pick).mark_image(
        width=image_size - 4, height=image_size - 4, smooth=False, aria=True,
    ).encode(x=alt.X("col:O", axis=None, scale=alt.Scale(domain=list(range(per_row)))),
             y=alt.Y("row:O", axis=None, scale=alt.Scale(domain=list(range(rows)))),
             url="url:N", description="alt:N").properties(width=image_size * per_row,
                                                          height=image_size * rows,
                                     title="Its top-activating inputs")
    writes = alt.Chart(alt.InlineData(values=dirs)).transform_filter(pick).mark_image(
        width=112, height=112, smooth=False, aria=True).encode(
        x=alt.value(56), y=alt.value(56), url="url:N", description="alt:N").properties(
        width=112, height=112, title="What it writes back")
    readout = _readout(texts, 200).transform_filter(pick)
    description = (
        f"Interactive figure: {count} latents of a sparse autoencoder. A select (or a click on "
        f"a bar of the chart of each latent's {first}) picks one; the figure shows its "
        f"top-activating inputs, its decoder direction as an image (red where it adds "
        f"brightness, blue where it removes it) and its numbers. Default: latent {latent}, "
        + "; ".join(f"{k} {v}" for k, v in shows.items()) + ".")
    right = alt.vconcat(writes, readout, spacing=8)
    return _finish(alt.concat(bar_chart, grid, right), "latent_explorer", description, shows)

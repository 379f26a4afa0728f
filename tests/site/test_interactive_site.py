"""The interactive figures (aecore.interactive) on the built book, in Chromium, offline.

Every built page that holds such figures (a ``div[data-aecore-figure]`` card) is loaded with
every request that does not go to the local test server aborted and recorded, and checked:

- each figure draws (an SVG appears) from the scripts served with the site, with no console
  error and no request leaving localhost (the JavaScript comes from _static/vega);
- each control (slider or select) changes the figure when moved: a number in its text changes;
- pointing works: hovering the latent plane previews another decoding, hovering a point of
  the linked maps shows its image and rings it in the other maps, brushing one map fades
  points in the others, clicking a latent's bar picks that latent;
- each control is focusable, has an accessible name and works from the keyboard;
- at the default setting, each number the figure declares (``data-shows``, see
  `aecore.interactive.shown`) is drawn in the figure *and* is one of the page's glued
  numbers (``span.pasted-text``): the chapter quotes the same value with the same format;
- axe-core finds nothing serious or critical with the figures drawn, in light or dark mode;
- at 390 px neither the page nor any figure scrolls sideways.

A screenshot of each figure goes to the screenshots folder (``<page>__figure-N.png``).
Run it like the rest of tests/site:  pytest tests/site --site _build/smoke/_build/html
"""

import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from test_site import AXE_FAILING_IMPACTS, DESKTOP, PHONE, run_axe

# How each kind of figure is pointed at (on top of its controls): see the pointer tests.
POINTER = {"latent_plane": ["hover"], "threshold_explorer": [], "noise_explorer": [],
           "linked_maps": ["hover", "brush"], "bits_explorer": [], "latent_explorer": ["click"]}
FADED = "#d4d4d4"  # aecore.interactive.FADED: points outside a brush


def figure_pages(config):
    """Pages of the built site that hold an interactive figure (found at collection)."""
    site = Path(config.getoption("--site") or "_build/smoke/_build/html").resolve()
    pages = []
    for path in sorted(site.rglob("*.html")):
        relative = path.relative_to(site)
        if relative.parts[0].startswith("_"):
            continue
        if "data-aecore-figure=" in path.read_text(errors="replace"):
            pages.append(relative.with_suffix("").as_posix())
    return pages


def pytest_generate_tests(metafunc):
    if "figure_page" in metafunc.fixturenames:
        metafunc.parametrize("figure_page", figure_pages(metafunc.config))


READY_JS = """() => {
    const cards = document.querySelectorAll('[data-aecore-figure]');
    return cards.length > 0 && [...cards].every(c => c.dataset.ready);
}"""

# One figure as the tests see it: its declared numbers, the text and images it draws, the
# marks stroked in black (markers, rings, rules), and its controls.
FIGURE_JS = """(index) => {
    const card = document.querySelectorAll('[data-aecore-figure]')[index];
    const svg = card.querySelector('svg');
    const scopes = svg ? [...svg.querySelectorAll('g.mark-group.role-scope')] : [];
    return {
        name: card.dataset.aecoreFigure, ready: card.dataset.ready,
        shows: JSON.parse(card.dataset.shows || '{}'),
        svg: !!svg,
        label: card.querySelector('[role="graphics-document"]')?.getAttribute('aria-label'),
        texts: svg ? [...svg.querySelectorAll('text')].map(t => t.textContent.trim()) : [],
        images: svg ? [...svg.querySelectorAll('image')].map(
            i => (i.getAttribute('href') || i.getAttribute('xlink:href') || '').slice(-40)) : [],
        black: svg ? [...svg.querySelectorAll('[stroke="#000000"]')].map(
            m => (m.getAttribute('transform') || '') + (m.getAttribute('d') || '')) : [],
        black_by_scope: scopes.map(s => [...s.querySelectorAll('[stroke="#000000"]')].map(
            m => m.getAttribute('transform') || '').join(' ')),
        faded_by_scope: scopes.map(s => s.querySelectorAll('path[fill="FADED"]').length),
        inputs: [...card.querySelectorAll('.vega-bindings input, .vega-bindings select')].map(
            el => ({tag: el.tagName.toLowerCase(), type: el.type, value: el.value,
                    min: el.min, max: el.max, options: el.options ? el.options.length : 0})),
        card: [card.scrollWidth, card.clientWidth],
    };
}""".replace("FADED", FADED)

SETTLE_JS = """async () => {
    await Promise.all((window.aecoreFigures || []).map(f => f.view.runAsync()));
    await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
}"""

# Move control `input` of figure `index` the way a reader does: a slider to its far end, a
# select to its next option; then the input event Vega listens to.
MOVE_JS = """([index, input]) => {
    const card = document.querySelectorAll('[data-aecore-figure]')[index];
    const el = card.querySelectorAll('.vega-bindings input, .vega-bindings select')[input];
    if (el.tagName === 'SELECT') {
        el.selectedIndex = (el.selectedIndex + 1) % el.options.length;
        el.dispatchEvent(new Event('change', {bubbles: true}));
    } else {
        const v = +el.value, lo = +el.min, hi = +el.max;
        el.value = hi - v >= v - lo ? el.max : el.min;
        el.dispatchEvent(new Event('input', {bubbles: true}));
        el.dispatchEvent(new Event('change', {bubbles: true}));
    }
    return el.value;
}"""


def numbers(texts):
    """The texts that hold a number (axis labels and titles aside, they are what changes)."""
    return [t for t in texts if re.search(r"\d", t)]


@contextmanager
def figures_page(browser, base_url, name, viewport=DESKTOP):
    """The page loaded with every request off localhost aborted; yields (page, report), where
    report collects those requests and the console errors."""
    context = browser.new_context(viewport=viewport)
    report = {"outside": [], "problems": []}

    def only_localhost(route):
        url = route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            route.continue_()
        else:
            report["outside"].append(url)
            route.abort()
    context.route("**/*", only_localhost)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.on("console", lambda m: report["problems"].append(f"console: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: report["problems"].append(f"page error: {e}"))
        response = page.goto(f"{base_url}/{name}.html", wait_until="load")
        assert response is not None and response.ok, name
        page.wait_for_function(READY_JS)
        page.evaluate(SETTLE_JS)
        yield page, report
    finally:
        context.close()


def figures(page):
    count = page.locator("[data-aecore-figure]").count()
    return [page.evaluate(FIGURE_JS, i) for i in range(count)]


def figure(page, index):
    page.evaluate(SETTLE_JS)
    return page.evaluate(FIGURE_JS, index)


def scope_box(page, index, scope):
    """The box of the `scope`-th view (in drawing order) of figure `index`, in page pixels."""
    card = page.locator("[data-aecore-figure]").nth(index)
    card.scroll_into_view_if_needed()
    return card.locator("svg g.mark-group.role-scope").nth(scope).locator(
        "path.background").first.bounding_box()


# --- the checks -----------------------------------------------------------------------------

def test_the_book_shows_every_kind_of_figure(request):
    """Issue 19's six figures, each in its chapter: every kind aecore.interactive draws is on
    some built page (a chapter that drops its figure fails here, not silently)."""
    site = Path(request.config.getoption("--site") or "_build/smoke/_build/html").resolve()
    kinds = set()
    for page in figure_pages(request.config):
        kinds |= set(re.findall(r'data-aecore-figure=(?:\\?["\'])?([a-z_]+)',
                                (site / f"{page}.html").read_text(errors="replace")))
    assert kinds >= set(POINTER), f"figure kinds missing from the book: {set(POINTER) - kinds}"


def test_figures_draw_offline(browser, base_url, screenshot_dir, figure_page):
    with figures_page(browser, base_url, figure_page) as (page, report):
        found = figures(page)
        for i, f in enumerate(found):
            assert f["ready"] == "true", f"{figure_page}: figure {i} ({f['name']}) failed"
            assert f["svg"] and f["texts"], f"{figure_page}: figure {i} drew nothing"
            assert f["label"] and f["label"].startswith("Interactive figure:"), (
                f"{figure_page}: figure {i} has no text description: {f['label']!r}")
            assert f["name"] in POINTER, (f"{figure_page}: unknown figure {f['name']}: say in "
                                          "POINTER how the test points at it")
            page.locator("[data-aecore-figure]").nth(i).screenshot(
                path=screenshot_dir / f"{figure_page.replace('/', '__')}__figure-{i + 1}.png")
        loaded = page.evaluate("""() => performance.getEntriesByType('resource')
            .map(r => r.name).filter(n => /vega/.test(n))""")
        assert len(loaded) == 3 and all("/_static/vega/" in u for u in loaded), loaded
        assert report["outside"] == [], (
            f"{figure_page}: requests off localhost: {report['outside']}")
        assert report["problems"] == [], f"{figure_page}: {report['problems']}"


def test_every_control_changes_its_figure(browser, base_url, figure_page):
    with figures_page(browser, base_url, figure_page) as (page, _):
        for i, f in enumerate(figures(page)):
            assert f["inputs"], f"{figure_page}: figure {i} ({f['name']}) has no control"
            for j, control in enumerate(f["inputs"]):
                before = figure(page, i)
                value = page.evaluate(MOVE_JS, [i, j])
                after = figure(page, i)
                assert value != control["value"], (figure_page, i, j, control)
                assert numbers(after["texts"]) != numbers(before["texts"]), (
                    f"{figure_page}: moving control {j} of {f['name']} to {value} changed no "
                    f"number in the figure: {numbers(after['texts'])}")


def test_pointing_changes_the_linked_views(browser, base_url, figure_page):
    with figures_page(browser, base_url, figure_page) as (page, _):
        for i, f in enumerate(figures(page)):
            for action in POINTER[f["name"]]:
                before = figure(page, i)
                if f["name"] == "latent_plane" and action == "hover":
                    box = scope_box(page, i, 0)  # the code plane: its top-left corner
                    page.mouse.move(box["x"] + 0.12 * box["width"], box["y"] + 0.12 * box["height"])
                    after = figure(page, i)
                    assert numbers(after["texts"]) != numbers(before["texts"]), after["texts"]
                    assert after["images"] != before["images"], "the decoding did not change"
                    page.mouse.move(0, 0)  # leaving the plane goes back to the sliders' point
                    assert figure(page, i)["texts"] == before["texts"]
                elif f["name"] == "linked_maps" and action == "hover":
                    box = scope_box(page, i, 1)  # the second map
                    page.mouse.move(box["x"] + 0.8 * box["width"], box["y"] + 0.2 * box["height"])
                    after = figure(page, i)
                    assert numbers(after["texts"]) != numbers(before["texts"]), after["texts"]
                    assert after["images"] != before["images"], "no other image shown"
                    moved = [s for s, (a, b) in enumerate(zip(before["black_by_scope"],
                                                              after["black_by_scope"])) if a != b]
                    assert {0, 1, 2} <= set(moved), f"the ring moved only in views {moved}"
                    page.mouse.move(0, 0)
                elif f["name"] == "linked_maps" and action == "brush":
                    box = scope_box(page, i, 0)  # drag a rectangle in the first map
                    page.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.3 * box["height"])
                    page.mouse.down()
                    page.mouse.move(box["x"] + 0.7 * box["width"], box["y"] + 0.7 * box["height"],
                                    steps=5)
                    page.mouse.up()
                    after = figure(page, i)
                    assert numbers(after["texts"]) != numbers(before["texts"]), after["texts"]
                    faded = after["faded_by_scope"]
                    assert faded[1] > 0 and faded[2] > 0, f"other maps not linked: {faded}"
                elif f["name"] == "latent_explorer" and action == "click":
                    card = page.locator("[data-aecore-figure]").nth(i)
                    bars = card.locator("svg g.mark-rect path")
                    bars.nth(bars.count() - 1).click()
                    after = figure(page, i)
                    assert numbers(after["texts"]) != numbers(before["texts"]), after["texts"]
                    assert after["images"] != before["images"], "no other latent shown"
                else:
                    pytest.fail(f"no pointer action {action!r} for {f['name']}")


def test_controls_work_from_the_keyboard_and_are_named(browser, base_url, figure_page):
    from playwright.sync_api import expect

    with figures_page(browser, base_url, figure_page) as (page, _):
        for i, f in enumerate(figures(page)):
            card = page.locator("[data-aecore-figure]").nth(i)
            controls = card.locator(".vega-bindings input, .vega-bindings select")
            for j in range(controls.count()):
                control = controls.nth(j)
                expect(control).to_have_accessible_name(re.compile(r"[A-Za-z]"))
                control.focus()
                assert control.evaluate(
                    "el => el === document.activeElement && el.tabIndex >= 0"), (
                    f"{figure_page}: control {j} of {f['name']} cannot take the focus")
                before = figure(page, i)
                old = control.input_value()
                at_end = f["inputs"][j]["tag"] == "input" and old == f["inputs"][j]["max"]
                page.keyboard.press("ArrowLeft" if at_end else
                                    "ArrowDown" if f["inputs"][j]["tag"] == "select" else
                                    "ArrowRight")
                assert control.input_value() != old, f"{f['name']}: a key did not move control {j}"
                assert numbers(figure(page, i)["texts"]) != numbers(before["texts"]), (
                    f"{figure_page}: a key moved control {j} of {f['name']} but not the figure")


def test_default_numbers_are_the_glued_numbers(browser, base_url, figure_page):
    """At its default setting a figure draws each number it declares, and the page's prose
    quotes the same string (glued with the same format spec)."""
    with figures_page(browser, base_url, figure_page) as (page, _):
        pasted = page.evaluate("""() => [...document.querySelectorAll('span.pasted-text')]
            .map(s => s.textContent.trim())""")
        declared = 0
        for i, f in enumerate(figures(page)):
            for quantity, text in f["shows"].items():
                declared += 1
                pattern = re.compile(rf"(?<![\d.]){re.escape(text)}(?!\d)")
                assert any(pattern.search(t) for t in f["texts"]), (
                    f"{figure_page}: {f['name']} declares {quantity} = {text} but draws "
                    f"{numbers(f['texts'])}")
                assert text in pasted, (
                    f"{figure_page}: {f['name']} shows {quantity} = {text}, which the prose "
                    f"does not quote (glued numbers on the page: {pasted})")
        if not declared:
            pytest.skip(f"{figure_page}: no figure declares numbers")


def test_figures_pass_axe_in_light_and_dark_mode(browser, base_url, axe_source, figure_page):
    with figures_page(browser, base_url, figure_page) as (page, _):
        axe = run_axe(page, axe_source)
    failing = [v for v in axe["violations"] if v["impact"] in AXE_FAILING_IMPACTS]
    assert failing == [], (
        f"{figure_page}: axe-core {axe['version']} with the figures drawn:\n  " + "\n  ".join(
            f"{v['id']} ({v['impact']}, {v['mode']} mode, {v['count']} elements): "
            + ", ".join(v["targets"][:3]) for v in failing))


def test_nothing_scrolls_sideways_on_a_phone(browser, base_url, screenshot_dir, figure_page):
    with figures_page(browser, base_url, figure_page, viewport=PHONE) as (page, _):
        width = page.evaluate("() => [document.documentElement.scrollWidth, "
                              "document.documentElement.clientWidth]")
        too_wide = []
        for i, f in enumerate(figures(page)):
            page.locator("[data-aecore-figure]").nth(i).screenshot(
                path=screenshot_dir / f"{figure_page.replace('/', '__')}__figure-{i + 1}-390px.png")
            scroll, client = f["card"]
            if scroll > client + 1:
                too_wide.append(f"{f['name']} is {scroll} px wide in a {client} px column")
        assert width[0] <= width[1], f"{figure_page}: the page is {width[0]} px wide at 390 px"
        assert too_wide == [], f"{figure_page} at 390 px: {too_wide}"

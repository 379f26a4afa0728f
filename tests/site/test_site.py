"""The built book, as a reader's browser sees it.

Each page of the table of contents is loaded once at 1280 px (a laptop) and once at 390 px
(a phone). Each load collects everything the checks below look at, and the parametrised tests
then assert on what was collected: one load per page and width, however many checks.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [chapter["file"] for part in TOC["parts"] for chapter in part["chapters"]]
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("notebooks/")]
REPO_URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# chapters also saved as phone screenshots (every page is saved at 1280 px)
PHONE_SCREENSHOTS = [p for p in NOTEBOOK_PAGES if re.search(r"/(01|08)_", p)]
AXE_OPTIONS = "{runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}"
AXE_FAILING_IMPACTS = ("serious", "critical")


def chapter_number(name):
    """notebooks/08_anomaly_detection -> 8: the two-digit prefix of the file name."""
    return int(re.match(r"(\d+)_", name.rsplit("/", 1)[-1]).group(1))


def screenshot_path(screenshot_dir, name, suffix=""):
    return screenshot_dir / f"{name.replace('/', '__')}{suffix}.png"


def open_page(page, base_url, name):
    """Load a page; return the console errors and failed requests seen while loading it."""
    problems = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error"
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}")
            if r.url.startswith(base_url) else None)
    response = page.goto(f"{base_url}/{name}.html", wait_until="load")
    assert response is not None and response.ok, f"{name}: HTTP {response and response.status}"
    return problems


def settle(page):
    """Wait until formulas are typeset, fonts loaded and wide outputs fitted (fit-outputs.js,
    one animation frame after that): all change how wide things are."""
    page.evaluate("""async () => {
        if (window.MathJax?.startup?.promise) await window.MathJax.startup.promise;
        await document.fonts.ready;
        await new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)));
    }""")


# --- what a load collects -----------------------------------------------------------------

IMAGES_JS = """() => ({
    broken: [...document.querySelectorAll('article img')]
        .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src),
    executed: [...document.querySelectorAll('article .cell_output img, article figure img')]
        .filter(i => i.naturalWidth > 0).length,  // in a cell, or glued into the text
    plots: [...document.querySelectorAll("article img:not([src*='colab-badge'])")].map(i => ({
        src: i.src.split('/').pop(),
        alt: (i.getAttribute('alt') || '').trim(),
        number: i.closest('figure')?.querySelector('figcaption .caption-number')
                 ?.textContent.trim() || null})),
    hrefs: [...document.querySelectorAll('a')].map(a => a.href),
})"""

# Figure numbers in page order, and what each {numref} link shows and points at.
NUMBERS_JS = """() => ({
    figures: [...document.querySelectorAll('article figure')].map(f => ({
        id: f.id,
        number: f.querySelector('figcaption .caption-number')?.textContent.trim() || null})),
    numrefs: [...document.querySelectorAll('article a .std-numref')].map(s => ({
        text: s.textContent.trim(), href: s.closest('a').getAttribute('href')})),
})"""

# At 1280 px, code (cell inputs and code blocks), output blocks and tables must not scroll
# sideways: neither the element itself nor the box that would scroll it, and nothing may stick
# out of the text column.
OVERFLOW_JS = """() => {
    const article = document.querySelector('article');
    const column = article.getBoundingClientRect();
    const describe = el => el.tagName.toLowerCase()
        + [...el.classList].slice(0, 3).map(c => '.' + c).join('');
    const snippet = el => (el.innerText || el.textContent).trim().replace(/\\s+/g, ' ')
        .slice(0, 70);
    const wide = el => el.scrollWidth > el.clientWidth + 1;
    const found = new Map();
    const selector = 'article div.highlight pre, article div.cell_output .output, '
                   + 'article div.cell_output pre, article table';
    for (const el of document.querySelectorAll(selector)) {
        let box = wide(el) ? el : null;
        if (!box) {
            for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
                if (getComputedStyle(a).overflowX !== 'visible') {
                    if (wide(a)) box = a;
                    break;
                }
            }
        }
        const r = el.getBoundingClientRect();
        if (!box && r.width > 0 && r.right > column.right + 1) box = el;
        if (box && !found.has(box)) {
            found.set(box, `${describe(box)} (${box.scrollWidth} px of content in `
                         + `${box.clientWidth} px): "${snippet(el)}"`);
        }
    }
    return {offenders: [...found.values()],
            page: [document.documentElement.scrollWidth, document.documentElement.clientWidth]};
}"""

# The outermost elements that stick out of the right edge of the window, except inside boxes
# that scroll or clip them and off-canvas drawers (position: fixed).
PAGE_WIDTH_JS = """() => {
    const width = document.documentElement.clientWidth;
    const contained = el => {
        for (let a = el; a && a !== document.body; a = a.parentElement) {
            const style = getComputedStyle(a);
            if (style.position === 'fixed') return true;
            if (a !== el && style.overflowX !== 'visible') return true;
        }
        return false;
    };
    const offenders = [];
    for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.right <= width + 1) continue;
        const parent = el.parentElement;
        if (parent && parent.getBoundingClientRect().right > width + 1
            && getComputedStyle(parent).overflowX === 'visible') continue;  // outermost only
        if (contained(el)) continue;
        offenders.push(`${el.tagName.toLowerCase()}.${[...el.classList].slice(0, 2).join('.')}`
            + ` reaches ${Math.round(r.right)} px: "`
            + `${el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 60)}"`);
    }
    return {scroll_width: document.documentElement.scrollWidth, width,
            offenders: offenders.slice(0, 8)};
}"""

# Display formulas (MathJax's mjx-container[display]), each with the start of its TeX source:
# how wide its content is, how wide its box is, whether that box scrolls sideways, and whether
# the box sticks out of the text column.
FORMULAS_JS = """() => {
    const column = document.querySelector('article').getBoundingClientRect();
    const tex = new Map();
    for (const item of window.MathJax?.startup?.document?.math || []) {
        tex.set(item.typesetRoot, item.math);
    }
    return [...document.querySelectorAll('article mjx-container[display]')].map(m => {
        const box = m.getBoundingClientRect();
        return {tex: (tex.get(m) || '').trim().replace(/\\s+/g, ' ').slice(0, 70),
                content: m.scrollWidth, box: m.clientWidth,
                scrolls: ['auto', 'scroll'].includes(getComputedStyle(m).overflowX),
                outside: box.left < column.left - 1 || box.right > column.right + 1};
    });
}"""

# Two stream outputs in a row inside one cell's output: prints not merged into one block.
STREAMS_JS = """() => [...document.querySelectorAll('div.cell_output')].flatMap(output => {
    const blocks = [...output.children];
    const text = el => el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 50);
    return blocks.slice(1).flatMap((block, i) =>
        block.matches('.output.stream') && blocks[i].matches('.output.stream')
            ? [`"${text(blocks[i])}" then "${text(block)}"`] : []);
})"""

AXE_RUN_JS = """async options => {
    const result = await axe.run(document, options);
    return result.violations.map(v => ({
        id: v.id, impact: v.impact, count: v.nodes.length,
        targets: v.nodes.slice(0, 4).map(n => n.target.join(' '))}));
}"""

DARK_MODE_JS = """() => {
    const style = document.createElement('style');  // no colour transitions to wait for
    style.textContent = '*, *::before, *::after { transition: none !important; }';
    document.head.append(style);
    document.documentElement.dataset.theme = 'dark';
    document.documentElement.dataset.mode = 'dark';
    return new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}"""


def run_axe(page, axe_text):
    """axe-core's WCAG 2 A and AA rules in light mode, its colour contrast again in dark mode."""
    page.add_script_tag(content=axe_text)
    light = page.evaluate(f"() => ({AXE_RUN_JS})({AXE_OPTIONS})")
    page.evaluate(DARK_MODE_JS)
    dark = page.evaluate(f"""() => ({AXE_RUN_JS})({{runOnly: {{type: 'rule',
                                                      values: ['color-contrast']}}}})""")
    return {"version": page.evaluate("axe.version"),
            "violations": [dict(v, mode="light") for v in light]
                          + [dict(v, mode="dark") for v in dark]}


def load_desktop(browser, base_url, screenshot_dir, axe_text, name):
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems = open_page(page, base_url, name)
        page.wait_for_load_state("networkidle")
        settle(page)
        report = {"problems": problems, "title": page.title().strip(),
                  **page.evaluate(IMAGES_JS), **page.evaluate(NUMBERS_JS),
                  "overflow": page.evaluate(OVERFLOW_JS), "streams": page.evaluate(STREAMS_JS),
                  "formulas": page.evaluate(FORMULAS_JS)}
        page.screenshot(path=screenshot_path(screenshot_dir, name), full_page=True)
        report["axe"] = run_axe(page, axe_text) if axe_text else None  # last: it changes mode
        return report
    finally:
        context.close()


def load_phone(browser, base_url, screenshot_dir, name):
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.set_default_timeout(20_000)
        open_page(page, base_url, name)
        settle(page)
        report = {**page.evaluate(PAGE_WIDTH_JS), "formulas": page.evaluate(FORMULAS_JS)}
        if name in PHONE_SCREENSHOTS:
            page.screenshot(path=screenshot_path(screenshot_dir, name, "-390px"), full_page=True)
        return report
    finally:
        context.close()


@pytest.fixture(scope="session")
def desktop(browser, base_url, screenshot_dir, pytestconfig):
    """desktop(name): what loading the page at 1280 px collected (loaded once per page)."""
    axe = Path(pytestconfig.getoption("--axe"))
    axe_text = axe.read_text() if axe.is_file() else None  # test_accessibility says if missing
    reports = {}

    def get(name):
        if name not in reports:
            reports[name] = load_desktop(browser, base_url, screenshot_dir, axe_text, name)
        return reports[name]
    return get


@pytest.fixture(scope="session")
def phone(browser, base_url, screenshot_dir):
    """phone(name): what loading the page at 390 px collected (loaded once per page)."""
    reports = {}

    def get(name):
        if name not in reports:
            reports[name] = load_phone(browser, base_url, screenshot_dir, name)
        return reports[name]
    return get


# --- every page ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_with_all_images(desktop, name):
    report = desktop(name)  # also saves the page's screenshot
    assert report["problems"] == [], f"{name}: {report['problems']}"
    assert report["broken"] == [], f"{name}: images that did not load: {report['broken']}"
    assert report["title"]


@pytest.mark.parametrize("name", PAGES)
def test_nothing_scrolls_sideways_at_1280px(desktop, name):
    overflow = desktop(name)["overflow"]
    assert overflow["offenders"] == [], (
        f"{name}: code, outputs or tables that scroll sideways at {DESKTOP['width']} px:\n  "
        + "\n  ".join(overflow["offenders"]))
    width, visible = overflow["page"]
    assert width <= visible, f"{name}: the page is {width} px wide in a {visible} px window"


@pytest.mark.parametrize("name", PAGES)
def test_page_does_not_scroll_sideways_on_a_phone(phone, name):
    report = phone(name)
    assert report["scroll_width"] <= report["width"], (
        f"{name}: at {PHONE['width']} px the page is {report['scroll_width']} px wide; "
        "sticking out:\n  " + "\n  ".join(report["offenders"] or ["(nothing found)"]))


def describe_formulas(formulas):
    return "\n  ".join(f"{f['content']} px of formula in a {f['box']} px box"
                       + (", sticking out of the column" if f["outside"] else "")
                       + f": {f['tex']}" for f in formulas)


@pytest.mark.parametrize("name", PAGES)
def test_display_formulas_fit_the_column_at_1280px(desktop, name):
    """At 1280 px every display formula fits the text column whole: a wide one is broken
    into lines (an aligned environment) rather than scrolled."""
    wide = [f for f in desktop(name)["formulas"] if f["content"] > f["box"] + 1 or f["outside"]]
    assert wide == [], (f"{name}: display formulas wider than the column at "
                        f"{DESKTOP['width']} px:\n  " + describe_formulas(wide))


@pytest.mark.parametrize("name", PAGES)
def test_display_formulas_on_a_phone_fit_or_scroll_in_their_own_box(phone, name):
    """At 390 px the text column is about 360 px, narrower than most display formulas of the
    book (all but one of chapter 6's), which would have to be cut into fragments to fit. Like
    code, such a formula scrolls inside its own box (the theme gives mjx-container
    overflow-x: auto), which stays inside the column: the page never scrolls sideways and no
    part of a formula is clipped or out of reach."""
    bad = [f for f in phone(name)["formulas"]
           if f["outside"] or (f["content"] > f["box"] + 1 and not f["scrolls"])]
    assert bad == [], (f"{name}: display formulas at {PHONE['width']} px that stick out or "
                       "are cut off instead of scrolling in their own box:\n  "
                       + describe_formulas(bad))


def test_formula_checks_see_typeset_formulas(desktop, phone):
    """The two checks above are not vacuous: the VAE chapter's display formulas are found,
    typeset by MathJax (their TeX source known), at both widths."""
    vae = [p for p in NOTEBOOK_PAGES if "variational" in p]
    if not vae:
        pytest.skip("the VAE chapter is not in the table of contents yet")
    for formulas in (desktop(vae[0])["formulas"], phone(vae[0])["formulas"]):
        assert len(formulas) >= 3, formulas
        assert all("\\" in f["tex"] and f["content"] > 0 for f in formulas), formulas


@pytest.mark.parametrize("name", PAGES)
def test_accessibility(desktop, axe_source, name):
    """axe-core, WCAG 2 A and AA: no serious or critical violation, in light or dark mode."""
    axe = desktop(name)["axe"]
    assert axe is not None, f"axe-core was not injected into {name}"
    failing = [v for v in axe["violations"] if v["impact"] in AXE_FAILING_IMPACTS]
    assert failing == [], (
        f"{name}: axe-core {axe['version']} finds WCAG 2 A/AA violations:\n  " + "\n  ".join(
            f"{v['id']} ({v['impact']}, {v['mode']} mode, {v['count']} elements): "
            + ", ".join(v["targets"][:3]) for v in failing))


# --- chapters -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_notebook_page_shows_figures_and_launch_links(desktop, name):
    report = desktop(name)
    assert report["executed"] >= 1, f"{name}: no executed figure on the page"
    slug = REPO_URL.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{slug}/blob/main/{name}.ipynb"
    assert colab in report["hrefs"], f"{name}: no Colab link of the form {colab}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_every_figure_is_numbered_with_caption_and_alt_text(desktop, name):
    plots = desktop(name)["plots"]
    assert plots, f"{name}: no figures"
    unnumbered = [p["src"] for p in plots if not p["number"]]
    no_alt = [p["src"] for p in plots if not p["alt"] or p["alt"] == "png"]
    assert unnumbered == [], f"{name}: images outside a numbered, captioned figure: {unnumbered}"
    assert no_alt == [], f"{name}: images without alt text: {no_alt}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_figures_are_numbered_within_their_chapter(desktop, name):
    """Fig. 8.1, 8.2, ... in page order on chapter 8; a {numref} shows the same number."""
    report = desktop(name)
    chapter = chapter_number(name)
    numbers = [f["number"] for f in report["figures"] if f["number"]]
    expected = [f"Fig. {chapter}.{i}" for i in range(1, len(numbers) + 1)]
    assert numbers == expected, f"{name}: figure numbers {numbers}, expected {expected}"
    by_id = {f["id"]: f["number"] for f in report["figures"] if f["id"]}
    wrong = [r for r in report["numrefs"]
             if not re.fullmatch(r"Fig\. \d+\.\d+", r["text"])
             or (r["href"].startswith("#") and r["text"] != by_id.get(r["href"][1:]))]
    assert wrong == [], f"{name}: references that do not show their figure's number: {wrong}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_what_a_cell_prints_is_one_output_block(desktop, name):
    split = desktop(name)["streams"]
    assert split == [], (f"{name}: cells whose printed lines show as separate blocks "
                         "(nb_merge_streams off?):\n  " + "\n  ".join(split))


def test_phone_screenshots_of_two_chapters(phone, screenshot_dir):
    assert len(PHONE_SCREENSHOTS) == 2, PHONE_SCREENSHOTS
    for name in PHONE_SCREENSHOTS:
        phone(name)
        assert screenshot_path(screenshot_dir, name, "-390px").is_file()


# --- navigation, search, formulas ---------------------------------------------------------

def test_previous_and_next_navigation(page, base_url):
    open_page(page, base_url, PAGES[0])
    page.click("a.right-next")
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/{PAGES[1]}.html")
    page.click("a.left-prev")
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/{PAGES[0]}.html")


def test_search_finds_the_vae_chapter(page, base_url):
    page.goto(f"{base_url}/search.html?q=variational", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=20_000)
    links = page.eval_on_selector_all("#search-results ul.search li a",
                                      "links => links.map(a => a.href)")
    vae = [p for p in NOTEBOOK_PAGES if "variational" in p]
    if not vae:
        pytest.skip("the VAE chapter is not in the table of contents yet")
    assert any(vae[0] in link for link in links), links


def test_formulas_render_offline(page, base_url):
    problems = open_page(page, base_url, "book/notation")
    page.wait_for_selector("mjx-container", timeout=20_000)  # MathJax served with the site
    assert not [p for p in problems if "mathjax" in p.lower()]
    assert not re.search(r"cdn\.jsdelivr|cdnjs", page.content())

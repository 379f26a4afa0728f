"""The built book, as a reader's browser sees it."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
PAGES = [TOC["root"]] + [chapter["file"] for part in TOC["parts"] for chapter in part["chapters"]]
NOTEBOOK_PAGES = [p for p in PAGES if p.startswith("notebooks/")]
REPO_URL = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


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


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly_with_all_images(page, base_url, screenshot_dir, name):
    problems = open_page(page, base_url, name)
    page.wait_for_load_state("networkidle")
    broken = page.eval_on_selector_all(
        "article img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0))"
                       ".map(i => i.src)")
    page.screenshot(path=screenshot_dir / f"{name.replace('/', '__')}.png", full_page=True)
    assert problems == [], f"{name}: {problems}"
    assert broken == [], f"{name}: images that did not load: {broken}"
    assert page.title().strip()


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_notebook_page_shows_figures_and_launch_links(page, base_url, name):
    open_page(page, base_url, name)
    figures = page.eval_on_selector_all(
        "article .cell_output img, article figure img",  # in a cell, or glued into the text
        "imgs => imgs.filter(i => i.naturalWidth > 0).length")
    assert figures >= 1, f"{name}: no executed figure on the page"
    slug = REPO_URL.removeprefix("https://github.com/")
    colab = f"https://colab.research.google.com/github/{slug}/blob/main/{name}.ipynb"
    hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
    assert colab in hrefs, f"{name}: no Colab link of the form {colab}"


@pytest.mark.parametrize("name", NOTEBOOK_PAGES)
def test_every_figure_is_numbered_with_caption_and_alt_text(page, base_url, name):
    open_page(page, base_url, name)
    plots = page.eval_on_selector_all(
        "article img:not([src*='colab-badge'])",
        """imgs => imgs.map(i => ({
            src: i.src.split('/').pop(),
            alt: (i.getAttribute('alt') || '').trim(),
            number: i.closest('figure')?.querySelector('figcaption .caption-number')
                     ?.textContent.trim() || null}))""")
    assert plots, f"{name}: no figures"
    unnumbered = [p["src"] for p in plots if not p["number"]]
    no_alt = [p["src"] for p in plots if not p["alt"] or p["alt"] == "png"]
    assert unnumbered == [], f"{name}: images outside a numbered, captioned figure: {unnumbered}"
    assert no_alt == [], f"{name}: images without alt text: {no_alt}"


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

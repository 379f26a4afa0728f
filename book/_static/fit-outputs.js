// Wide outputs fit the text column by a smaller font, as a printed book sets a wide table:
// pandas tables, and the box-drawn tables that Keras' model.summary() prints. Each is set
// smaller, step by step down to MIN_SCALE of its size, until it fits. What still does not fit
// falls back on book.css: table headers and lines of text then wrap. On a phone (narrower
// than 576 px) nothing shrinks: wide outputs scroll inside their own box there.
(function () {
  "use strict";
  const MIN_SCALE = 0.7;
  const STEP = 0.05;
  const PHONE = window.matchMedia("(max-width: 575.98px)");
  const BOX_DRAWING = /[\u2500-\u257f]/;  // ┏━┃│└ ...

  // the box that would scroll sideways: the output block (or the table's parent); strict,
  // since a line of pre-wrapped text wraps when it is a fraction of a pixel too wide
  function tooWide(box) {
    return box.scrollWidth > box.clientWidth;
  }

  function shrink(el, box) {
    el.style.removeProperty("font-size");
    if (PHONE.matches) return;
    const base = parseFloat(getComputedStyle(el).fontSize);
    for (let scale = 1 - STEP; tooWide(box) && scale >= MIN_SCALE - 1e-9; scale -= STEP) {
      el.style.setProperty("font-size", `${(base * scale).toFixed(2)}px`);
    }
  }

  function fit() {
    const article = document.querySelector("article");
    if (!article) return;
    for (const table of article.querySelectorAll("div.cell_output table, table.dataframe")) {
      const box = table.closest(".output") || table.parentElement;
      table.classList.remove("book-squeezed");
      shrink(table, box);
      if (!PHONE.matches && tooWide(box)) {
        table.classList.add("book-squeezed");  // headers may now break inside words
      }
    }
    for (const pre of article.querySelectorAll("div.cell_output .output.text_html > pre")) {
      if (!BOX_DRAWING.test(pre.textContent)) continue;
      const style = pre.style;
      const [space, priority] = [style.getPropertyValue("white-space"),
                                 style.getPropertyPriority("white-space")];
      style.setProperty("white-space", "pre", "important");  // measure unwrapped lines
      shrink(pre, pre);
      style.removeProperty("white-space");
      if (space) style.setProperty("white-space", space, priority);  // rich's own `pre`
    }
  }

  let pending = null;
  function refit() {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(fit);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fit);
  } else {
    fit();
  }
  window.addEventListener("load", refit);  // fonts and images may change widths
  window.addEventListener("resize", refit);
  if (document.fonts) document.fonts.ready.then(refit);
})();

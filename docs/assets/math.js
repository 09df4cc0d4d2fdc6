// Render the site's math with the vendored KaTeX (assets/vendor/katex), never a CDN.
// Markdown pages: pymdownx.arithmatex wraps math in \( \) and \[ \] inside .arithmatex elements.
// Tutorial pages: the notebooks' Markdown cells keep $...$ and $$...$$, as Jupyter shows them.
// A formula KaTeX cannot parse is reported on the console (the browser test fails on it).
function renderMinviMath(root) {
  const strict = { throwOnError: true, errorCallback: (message, error) => console.error(message, error) };
  root.querySelectorAll(".arithmatex").forEach((element) => {
    renderMathInElement(element, { ...strict, delimiters: [
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ] });
  });
  root.querySelectorAll(".jp-MarkdownCell .jp-RenderedMarkdown, .jp-MarkdownOutput").forEach((element) => {
    renderMathInElement(element, { ...strict, delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "$", right: "$", display: false },
    ] });
  });
  document.documentElement.dataset.mathRendered = "yes";
}

if (typeof document$ !== "undefined") {
  document$.subscribe(() => renderMinviMath(document));
} else {
  document.addEventListener("DOMContentLoaded", () => renderMinviMath(document));
}

// Swap each static picture for its live chart once the chart is drawn, in one step,
// so a reader never sees both. If drawing fails, the picture stays.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  window.reportViews = {};
  var figures = document.querySelectorAll("figure.chart");
  Array.prototype.forEach.call(figures, function (figure) {
    var key = figure.getAttribute("data-chart");
    var live = figure.querySelector(".live");
    var picture = figure.querySelector(".static");
    var error = figure.parentNode.querySelector(".chart-error");
    if (typeof vegaEmbed !== "function" || !specs[key]) { return; }
    // The spec is compiled Vega: vega-embed hands it to Vega, with hover processing off
    // as it is for Vega-Lite specs (their marks have no hover encoding).
    vegaEmbed(live, specs[key], {
      mode: "vega",
      hover: false,
      renderer: "canvas",
      actions: { "export": true, source: false, compiled: false, editor: false },
      downloadFileName: key
    }).then(function (result) {
      window.reportViews[key] = result.view;
      // Vega names its canvas "Vega visualization"; the group around it already says
      // what the chart shows, so the canvas takes the section's title.
      var graphic = live.querySelector("[role='graphics-document']");
      var title = figure.getAttribute("aria-labelledby");
      if (graphic && title) {
        graphic.removeAttribute("aria-label");
        graphic.setAttribute("aria-labelledby", title);
      }
      live.hidden = false;
      if (picture) { picture.remove(); }
      figure.setAttribute("data-drawn", "true");
    }).catch(function (err) {
      figure.setAttribute("data-drawn", "error");
      if (error) { error.textContent = "The interactive chart could not be drawn (" + err + "); the picture above is static."; }
    });
  });
})();

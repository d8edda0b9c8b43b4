// Draw each chart from its compiled Vega spec (Vega's View, vega-tooltip's tooltips: no
// Vega-Lite compiler in the page), then swap the static picture for the live chart in
// one step, so a reader never sees both. If drawing fails, the picture stays.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  window.reportViews = {};
  if (typeof vega !== "object" || typeof vegaTooltip !== "object") { return; }
  var tooltip = new vegaTooltip.Handler().call;

  // "Save as SVG" and "Save as PNG" of the chart as it is drawn now (zoom, values): the
  // first click asks Vega for the picture, then follows the link with it in place.
  function saveLink(view, key, type) {
    var link = document.createElement("a");
    link.textContent = "Save as " + type.toUpperCase();
    link.href = "#";
    link.download = key + "." + type;
    link.addEventListener("click", function (event) {
      if (link.getAttribute("href") !== "#") { return; }
      event.preventDefault();
      view.toImageURL(type).then(function (url) {
        link.href = url;
        link.click();
        link.href = "#";
      });
    });
    return link;
  }

  function exportMenu(view, key) {
    var menu = document.createElement("details");
    menu.className = "chart-menu";
    var summary = menu.appendChild(document.createElement("summary"));
    summary.textContent = "\u22ef";
    summary.title = "Save this chart";
    summary.setAttribute("aria-label", "Save this chart");
    var actions = menu.appendChild(document.createElement("div"));
    actions.appendChild(saveLink(view, key, "svg"));
    actions.appendChild(saveLink(view, key, "png"));
    document.addEventListener("click", function (event) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
    return menu;
  }

  Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), function (figure) {
    var key = figure.getAttribute("data-chart");
    var live = figure.querySelector(".live");
    var picture = figure.querySelector(".static");
    var error = figure.parentNode.querySelector(".chart-error");
    if (!specs[key]) { return; }
    // Vega labels the element it draws in; the live figure keeps its own role and label.
    var chart = live.appendChild(document.createElement("div"));
    var view;
    Promise.resolve().then(function () {
      // Expressions parsed to trees and interpreted: no `new Function` ('unsafe-eval').
      view = new vega.View(vega.parse(specs[key], null, { ast: true }), {
        renderer: "canvas", container: chart, tooltip: tooltip,
        expr: vega.expressionInterpreter
      });
      return view.runAsync();
    }).then(function () {
      window.reportViews[key] = view;
      live.appendChild(exportMenu(view, key));
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

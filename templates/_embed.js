// Draw each chart from its compiled Vega spec (Vega's View, vega-tooltip's tooltips: no
// Vega-Lite compiler in the page), then swap the static picture for the live chart in
// one step, so a reader never sees both. If drawing fails, the picture stays. The
// picture is kept, hidden, for print (templates/_style.css).
//
// A chart is drawn when it comes within a screen's height of the view (an in-page link,
// Find and the keyboard's focus all scroll it there), one chart at a time, the ones on
// screen first: the charts at the top are drawn before the ones further down cost
// anything. Until then its picture, the same chart, shows. A figure carries
// data-drawn="true" once drawn ("error" if it could not be).
//
// Each live chart takes its column's width (its spec's usermeta.sizing: how many panels
// share it, and each one's least and greatest width), again whenever the column
// changes, and follows the reader's colour scheme: on a dark page its greys and colours
// become their dark variants (build.dark_colors), redrawn if the scheme changes.
(function () {
  "use strict";
  var specs = JSON.parse(document.getElementById("chart-specs").textContent);
  var theme = JSON.parse(document.getElementById("chart-theme").textContent);
  window.reportViews = {};
  if (typeof vega !== "object" || typeof vegaTooltip !== "object") { return; }
  var darkScheme = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  var tooltips = {};
  // A panel grows taller with its width, up to this much of its picture's height.
  var MAX_HEIGHT_RATIO = 1.5;

  function isDark() { return Boolean(darkScheme && darkScheme.matches); }

  function tooltip(dark) {
    var name = dark ? "dark" : "light";
    if (!tooltips[name]) { tooltips[name] = new vegaTooltip.Handler({ theme: name }).call; }
    return tooltips[name];
  }

  // The spec with every colour swapped for its dark variant (its data left alone), and
  // no background of its own: the page's shows through.
  function darkSpec(spec) {
    function swap(node) {
      if (typeof node === "string") {
        var dark = theme.dark[node.toLowerCase()];
        return dark === undefined ? node : dark;
      }
      if (Array.isArray(node)) { return node.map(swap); }
      if (node && typeof node === "object") {
        var out = {};
        Object.keys(node).forEach(function (key) { out[key] = swap(node[key]); });
        return out;
      }
      return node;
    }
    var out = {};
    Object.keys(spec).forEach(function (key) { out[key] = key === "data" ? spec.data : swap(spec[key]); });
    out.background = "transparent";
    return out;
  }

  // Text Vega draws in its default black (titles, axis labels) takes the page's ink.
  function darkConfig() {
    var ink = getComputedStyle(document.documentElement).getPropertyValue("--ink").trim();
    return {
      title: { color: ink, subtitleColor: ink },
      axis: { labelColor: ink, titleColor: ink },
      text: { fill: ink }
    };
  }

  // --- sizing ------------------------------------------------------------------------

  // The signals that size a chart's panels: each faceted row's child width and height,
  // or a single chart's own width and height; and what they are in the picture.
  function sizeSignals(spec) {
    var rows = (spec.signals || []).filter(function (s) { return /_child_width$/.test(s.name); });
    if (!rows.length) {
      return { widths: ["width"], heights: { height: spec.height }, width: spec.width };
    }
    var heights = {};
    rows.forEach(function (s) {
      var name = s.name.replace(/_width$/, "_height");
      var height = (spec.signals || []).filter(function (h) { return h.name === name; })[0];
      if (height) { heights[name] = height.value; }
    });
    return { widths: rows.map(function (s) { return s.name; }), heights: heights, width: rows[0].value };
  }

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }

  // How many panels share a chart's width (its sizing says; one if it does not).
  function panels(chart) { return Math.max(1, (chart.sizing || {}).panels || 1); }

  // Width taken by everything but the panels is fixed, so one step from the drawn width
  // finds the panel width that fills the column (a second settles axis labels).
  function fittedWidth(chart, drawn) {
    var sizing = chart.sizing;
    var room = chart.figure.clientWidth - parseFloat(getComputedStyle(chart.live).paddingRight || 0);
    if (!sizing || !(drawn > 0) || !(room > 0)) { return chart.width; }
    return Math.floor(clamp(chart.width + (room - drawn) / panels(chart),
                            sizing.min_width, Math.max(sizing.min_width, sizing.max_width)));
  }

  // A chart that leaves at most this many pixels of its column empty is not drawn again
  // to fill them: its first width comes from its picture, whose text vl-convert measures
  // a pixel or two differently from the browser, and drawing it again costs a full run.
  var FIT_SLACK = 2;

  function fit(chart, rounds) {
    var canvas = chart.element.querySelector("canvas");
    if (!canvas) { return Promise.resolve(); }
    var width = fittedWidth(chart, parseFloat(canvas.style.width) ||
                                   canvas.getBoundingClientRect().width);
    var short = (width - chart.width) * panels(chart);
    if (short >= 0 && short <= FIT_SLACK) { return Promise.resolve(); }
    chart.width = width;
    var ratio = clamp(width / chart.size.width, 1, MAX_HEIGHT_RATIO);
    chart.size.widths.forEach(function (name) { chart.view.signal(name, width); });
    Object.keys(chart.size.heights).forEach(function (name) {
      chart.view.signal(name, Math.round(chart.size.heights[name] * ratio));
    });
    // resize(): Vega re-runs its autosize only when asked, not for a panel's new size.
    return chart.view.resize().runAsync().then(function () {
      return rounds > 1 ? fit(chart, rounds - 1) : null;
    });
  }

  // --- the menu ----------------------------------------------------------------------

  // "Save as SVG" and "Save as PNG" of the chart as it is drawn now (zoom, values): the
  // first click asks Vega for the picture, then follows the link with it in place.
  function saveLink(chart, type) {
    var link = document.createElement("a");
    link.textContent = "Save as " + type.toUpperCase();
    link.href = "#";
    link.download = chart.key + "." + type;
    link.addEventListener("click", function (event) {
      if (link.getAttribute("href") !== "#") { return; }
      event.preventDefault();
      chart.view.toImageURL(type).then(function (url) {
        link.href = url;
        link.click();
        link.href = "#";
      });
    });
    return link;
  }

  function exportMenu(chart) {
    var menu = document.createElement("details");
    menu.className = "chart-menu";
    var summary = menu.appendChild(document.createElement("summary"));
    summary.textContent = "\u22ef";
    summary.title = "Save this chart";
    summary.setAttribute("aria-label", "Save this chart");
    var actions = menu.appendChild(document.createElement("div"));
    actions.appendChild(saveLink(chart, "svg"));
    actions.appendChild(saveLink(chart, "png"));
    document.addEventListener("click", function (event) {
      if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
    });
    // Escape closes the open menu and leaves the focus on its button.
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.removeAttribute("open");
        summary.focus();
      }
    });
    return menu;
  }

  // --- drawing -----------------------------------------------------------------------

  // Draws (or redraws, in the reader's scheme) one chart; the controls' settings and the
  // width it had are kept.
  function draw(chart) {
    var dark = isDark();
    var spec = dark ? darkSpec(specs[chart.key]) : specs[chart.key];
    var element = document.createElement("div");
    var kept = {};
    if (chart.view) {
      ["values", "band", theme.pointed].forEach(function (name) {
        try { kept[name] = chart.view.signal(name); } catch (missing) { /* no such control */ }
      });
    }
    var options = { renderer: "canvas", container: element, tooltip: tooltip(dark) };
    if (theme.strict) {  // --strict-csp: expressions interpreted, no `new Function`
      options.expr = vega.expressionInterpreter;
    }
    var view = new vega.View(vega.parse(spec, dark ? darkConfig() : undefined,
                                        theme.strict ? { ast: true } : undefined), options);
    Object.keys(kept).forEach(function (name) { view.signal(name, kept[name]); });
    if (chart.width !== chart.size.width) {
      chart.size.widths.forEach(function (name) { view.signal(name, chart.width); });
      var ratio = clamp(chart.width / chart.size.width, 1, MAX_HEIGHT_RATIO);
      Object.keys(chart.size.heights).forEach(function (name) {
        view.signal(name, Math.round(chart.size.heights[name] * ratio));
      });
    }
    return view.runAsync().then(function () {
      if (chart.view) { chart.view.finalize(); chart.element.remove(); }
      chart.live.insertBefore(element, chart.live.firstChild);
      chart.element = element;
      chart.view = view;
      chart.dark = dark;
      window.reportViews[chart.key] = view;
      // Vega names its canvas "Vega visualization"; the group around it already says
      // what the chart shows, so the canvas takes the section's title.
      var graphic = element.querySelector("[role='graphics-document']");
      var title = chart.figure.getAttribute("aria-labelledby");
      if (graphic && title) {
        graphic.removeAttribute("aria-label");
        graphic.setAttribute("aria-labelledby", title);
      }
    });
  }

  var charts = [];  // the drawn ones

  // The chart of a figure, or null if its spec is missing.
  function chartOf(figure) {
    var key = figure.getAttribute("data-chart");
    if (!specs[key]) { return null; }
    var size = sizeSignals(specs[key]);
    return {
      key: key, figure: figure, live: figure.querySelector(".live"),
      picture: figure.querySelector(".static"),
      error: figure.parentNode.querySelector(".chart-error"),
      sizing: (specs[key].usermeta || {}).sizing, size: size, width: size.width
    };
  }

  // A chart's invisible pointer targets (its tooltips, the seed under the pointer) are
  // made when a pointer first moves over it, not with its first drawing. Moves, not
  // `pointerenter`: a pointer already over the picture when the chart is drawn enters
  // nothing.
  function pointed(chart) {
    try {
      if (chart.view && !chart.view.signal(theme.pointed)) {
        chart.view.signal(theme.pointed, true).runAsync();
      }
    } catch (missing) { /* a chart without pointer targets */ }
  }

  // Draws a chart and swaps its picture for it; the promise settles when that is done.
  function show(chart) {
    ["pointermove", "pointerdown"].forEach(function (type) {
      chart.figure.addEventListener(type, function () { pointed(chart); });
    });
    var picture = chart.picture;
    // The first drawing already fills the column as it is now, as far as the picture
    // (the same chart at its own size) tells: most charts are then drawn once, not again
    // by `fit`.
    chart.width = fittedWidth(chart, picture && parseFloat(picture.getAttribute("width")));
    return Promise.resolve().then(function () {
      return draw(chart);
    }).then(function () {
      chart.live.appendChild(exportMenu(chart));
      // The live chart is measured where it will show, in the same frame as the swap.
      chart.live.hidden = false;
      if (picture) { picture.hidden = true; }
      return fit(chart, 2);
    }).then(function () {
      charts.push(chart);
      chart.figure.setAttribute("data-drawn", "true");
    }).catch(function (err) {
      chart.figure.setAttribute("data-drawn", "error");
      chart.live.hidden = true;
      if (picture) { picture.hidden = false; }
      if (chart.error) {
        chart.error.textContent = "The interactive chart could not be drawn (" + err + "); the picture above is static.";
      }
    });
  }

  // --- when each chart is drawn --------------------------------------------------------

  var all = [];
  var waiting = [];  // charts near the view, not drawn yet, in the page's order
  var drawing = false;
  var near = null;

  function onScreen(chart) {
    var box = chart.figure.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  }

  // The next chart to draw: the first one on screen, else the first one near it.
  function drawNext() {
    if (drawing || !waiting.length) { return; }
    var chart = waiting.filter(onScreen)[0] || waiting[0];
    waiting.splice(waiting.indexOf(chart), 1);
    chart.started = true;
    if (near) { near.unobserve(chart.figure); }
    drawing = true;
    show(chart).then(function () {
      drawing = false;
      // A task of its own: the browser may paint (and the reader scroll) in between.
      window.setTimeout(drawNext, 0);
    });
  }

  // Charts that came near the view wait their turn; those that left it (scrolled past,
  // or the page opened at a #link further down) wait no longer.
  function nearView(entries) {
    entries.forEach(function (entry) {
      var chart = all.filter(function (c) { return c.figure === entry.target; })[0];
      var at = waiting.indexOf(chart);
      if (!chart || chart.started) { return; }  // drawn or being drawn (a late entry)
      if (entry.isIntersecting && at < 0) { waiting.push(chart); }
      if (!entry.isIntersecting && at >= 0) { waiting.splice(at, 1); }
    });
    waiting.sort(function (a, b) { return a.order - b.order; });
    drawNext();
  }

  Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), function (figure) {
    var chart = chartOf(figure);
    if (chart) { chart.order = all.length; all.push(chart); }
  });
  // Once the page has loaded: one opened at a #link has then been scrolled to it.
  function start() {
    if (typeof IntersectionObserver !== "function") {  // a browser too old: every chart
      waiting = all.slice();
      drawNext();
      return;
    }
    near = new IntersectionObserver(nearView, { rootMargin: "100% 0px" });  // a screen's height
    all.forEach(function (chart) { near.observe(chart.figure); });
  }
  if (document.readyState === "complete") { start(); } else { window.addEventListener("load", start); }

  // A column that changes width (a window resized, a phone turned) refits its chart,
  // once a frame at most.
  var pending = false;
  function refit() {
    if (pending) { return; }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      charts.forEach(function (chart) { fit(chart, 2); });
    });
  }
  if (typeof ResizeObserver === "function") {
    var observer = new ResizeObserver(refit);
    Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), function (figure) {
      observer.observe(figure);
    });
  } else {
    window.addEventListener("resize", refit);
  }

  // A reader who switches scheme while reading gets the charts redrawn in it.
  if (darkScheme && darkScheme.addEventListener) {
    darkScheme.addEventListener("change", function () {
      charts.forEach(function (chart) {
        if (chart.dark !== isDark()) { draw(chart); }
      });
    });
  }
})();

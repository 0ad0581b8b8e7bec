// flowgen diagram: interaction with an SVG diagram of graph.SVG, shared by
// `flowgen graph -format html` and the web view of `flowgen serve`.
// No dependencies; works offline.
//
//   flowgenDiagram.attach(svg, onSelect)  click a box (or Tab to it, Enter or
//       Space): select it, light its
//       edges, call onSelect(info) (info: id, step, terminal, kind, title,
//       name, lines, doc, call: the flow a call runs or "", out: [{to, label}],
//       in: [{from, label}]); null when the selection is cleared (a click
//       outside the boxes).
//   flowgenDiagram.select(svg, g)  select the box g (null: none) and light
//       its edges, as a click does, calling nothing.
//   flowgenDiagram.name(g)  what box g is called: its title; for a parallel
//       block's fork or join bar, which has none, "fork (join) of parallel
//       block B"; for a start point, "start".
// A run's path is lit by the server (graph.SVGPath), which alone reads
// its machine states.
(function () {
  "use strict";
  function nodes(svg) { return Array.prototype.slice.call(svg.querySelectorAll(".fg-node")); }
  function edges(svg) { return Array.prototype.slice.call(svg.querySelectorAll(".fg-edge")); }
  // fromOf is the data-node of the box edge e leaves: its data-from, or
  // for a start arrow (data-from "") the start point of e's own flow. An
  // SVG of a whole file has a start arrow in every flow.
  function fromOf(e) {
    var from = e.getAttribute("data-from");
    if (from) return from;
    var flow = e.closest(".fg-flow"), start = flow ? flow.querySelector(".fg-start") : null;
    return start ? start.getAttribute("data-node") : "";
  }
  function kindOf(g) {
    var k = ["step", "branch", "undo", "aborting", "terminal", "start", "fork", "join"];
    for (var i = 0; i < k.length; i++) if (g.classList.contains("fg-" + k[i])) return k[i];
    return "";
  }
  function name(g) {
    if (g.hasAttribute("data-block")) return (g.classList.contains("fg-fork") ? "fork" : "join") + " of parallel block " + g.getAttribute("data-block");
    var t = g.querySelector(".fg-title");
    return t && t.textContent ? t.textContent : g.classList.contains("fg-start") ? "start" : g.getAttribute("data-node");
  }
  function info(svg, g) {
    var id = g.getAttribute("data-node");
    var lines = Array.prototype.map.call(g.querySelectorAll(".fg-line"), function (t) { return t.textContent; });
    var title = g.querySelector(".fg-title");
    var doc = g.querySelector("title");
    var out = [], inn = [];
    edges(svg).forEach(function (e) {
      var label = e.querySelector(".fg-label");
      label = label ? label.textContent : "";
      var to = e.getAttribute("data-to");
      if (fromOf(e) === id) out.push({ to: to, label: label });
      if (to === id) inn.push({ from: e.getAttribute("data-from"), label: label });
    });
    return {
      id: id, kind: kindOf(g), step: g.getAttribute("data-step") || "", name: name(g),
      terminal: g.getAttribute("data-terminal") || "", call: g.getAttribute("data-call") || "",
      title: title ? title.textContent : "", lines: lines, doc: doc ? doc.textContent : "", out: out, in: inn
    };
  }
  function select(svg, g) {
    nodes(svg).forEach(function (n) { n.classList.toggle("fg-selected", n === g); });
    var id = g ? g.getAttribute("data-node") : null;
    edges(svg).forEach(function (e) {
      e.classList.toggle("fg-hl", id !== null && (fromOf(e) === id || e.getAttribute("data-to") === id));
    });
  }
  function attach(svg, onSelect) {
    function pick(g) {
      select(svg, g);
      if (onSelect) onSelect(g ? info(svg, g) : null);
    }
    svg.addEventListener("click", function (ev) {
      pick(ev.target.closest ? ev.target.closest(".fg-node") : null);
    });
    // A box is reached and picked by keyboard too (Tab to it, Enter or
    // Space), as by a click: its details, a call's link to its child
    // flow among them, are otherwise out of reach without a mouse.
    // A button to a screen reader, named as the details name it (an
    // unnamed group, else); a box's doc, its <title>, is its description.
    nodes(svg).forEach(function (g) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      g.setAttribute("aria-label", name(g));
    });
    svg.addEventListener("keydown", function (ev) {
      var g = ev.target.closest ? ev.target.closest(".fg-node") : null;
      if (!g || (ev.key !== "Enter" && ev.key !== " ")) return;
      ev.preventDefault(); // Space would scroll the page
      pick(g);
    });
  }
  window.flowgenDiagram = { attach: attach, info: info, select: select, name: name };
})();

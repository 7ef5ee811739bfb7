// The ER diagram's controls: pan (drag), zoom (wheel, buttons), fit, and three filters (a table and its
// neighbours, missing keys only, one component). Everything is read from the SVG's data attributes; nothing is
// fetched. Without this script the diagram is still complete, in a scrolling box.
(function () {
  "use strict";
  var svg = document.querySelector("svg.er");
  var stage = document.querySelector(".er-stage");
  var bar = document.querySelector(".er-controls");
  if (!svg || !stage || !bar) { return; }
  var READABLE = 10 / 13;  // screen px per diagram unit that shows the 13 px table names 10 px high
  var MOST = 2.5;
  var LEAST = 0.02;
  var PAD = 12;
  var all = svg.viewBox.baseVal;
  var whole = { x: all.x, y: all.y, w: all.width, h: all.height };
  var view = { x: 0, y: 0, k: 1 };
  var tables = {};  // qualified name -> {g, box, component, edges: []}
  var names = [];
  var edges = [];
  var groups = [];
  var state = { component: "", table: "", inferredOnly: false };
  var input = bar.querySelector("input[type=search]");
  var picker = bar.querySelector("select");
  var toggle = bar.querySelector("input[type=checkbox]");
  var status = document.querySelector(".er-status");
  var zoomShown = bar.querySelector(".er-zoom");

  Array.prototype.forEach.call(svg.querySelectorAll("g.component"), function (group) {
    var entry = { g: group, index: group.getAttribute("data-component"), hub: group.getAttribute("data-hub"),
      tables: [], box: null };
    groups.push(entry);
    Array.prototype.forEach.call(group.querySelectorAll("g.table"), function (g) {
      var rect = g.querySelector("rect.box");
      var box = { x: +rect.getAttribute("x"), y: +rect.getAttribute("y"), w: +rect.getAttribute("width"),
        h: +rect.getAttribute("height") };
      var name = g.getAttribute("data-table");
      tables[name] = { g: g, box: box, component: entry.index, edges: [] };
      names.push(name);
      entry.tables.push(name);
      entry.box = union(entry.box, box);
    });
    // A framed component is fitted with its frame and its caption (drawn above the frame).
    var frame = group.querySelector("rect.frame");
    if (frame) {
      var caption = 30;
      entry.box = { x: +frame.getAttribute("x"), y: +frame.getAttribute("y") - caption,
        w: +frame.getAttribute("width"), h: +frame.getAttribute("height") + caption };
    }
  });
  Array.prototype.forEach.call(svg.querySelectorAll("path.fk"), function (path) {
    var rows = (path.getAttribute("data-rows") || "13 13").split(" ");
    var edge = { path: path, child: path.getAttribute("data-child"), parent: path.getAttribute("data-parent"),
      inferred: path.classList.contains("inferred"), d: path.getAttribute("d"), rows: [+rows[0], +rows[1]] };
    edges.push(edge);
    [edge.child, edge.parent].forEach(function (name) { if (tables[name]) { tables[name].edges.push(edge); } });
  });

  function union(a, b) {
    if (!a) { return { x: b.x, y: b.y, w: b.w, h: b.h }; }
    var x = Math.min(a.x, b.x);
    var y = Math.min(a.y, b.y);
    return { x: x, y: y, w: Math.max(a.x + a.w, b.x + b.w) - x, h: Math.max(a.y + a.h, b.y + b.h) - y };
  }

  // The stage's inside (its border excluded): what the picture fills.
  function size() {
    return { w: Math.max(1, stage.clientWidth), h: Math.max(1, stage.clientHeight) };
  }

  function apply() {
    var s = size();
    svg.setAttribute("viewBox", [view.x, view.y, s.w / view.k, s.h / view.k].map(function (v) {
      return v.toFixed(2);
    }).join(" "));
    svg.setAttribute("data-scale", view.k.toFixed(4));
    zoomShown.textContent = Math.round(view.k * 100) + "%";
  }

  // Fit a box to the stage; when `readable` and the fit would be too small to read, read it at READABLE around
  // `centre` instead, kept inside the box.
  function fit(box, readable, centre) {
    var s = size();
    var k = Math.min(s.w / (box.w + 2 * PAD), s.h / (box.h + 2 * PAD), 1.25);
    if (readable && k < READABLE) {
      k = READABLE;
      var c = centre || { x: box.x + box.w / 2, y: box.y + box.h / 2 };
      var vw = s.w / k;
      var vh = s.h / k;
      view = { k: k, x: clamp(c.x - vw / 2, box.x - PAD, box.x + box.w + PAD - vw),
        y: clamp(c.y - vh / 2, box.y - PAD, box.y + box.h + PAD - vh) };
    } else {
      view = { k: k, x: box.x + box.w / 2 - s.w / k / 2, y: box.y + box.h / 2 - s.h / k / 2 };
    }
    apply();
  }

  function clamp(value, low, high) { return high < low ? low : Math.max(low, Math.min(high, value)); }

  function zoomAt(factor, px, py) {
    var k = Math.max(LEAST, Math.min(MOST, view.k * factor));
    view.x += px / view.k - px / k;
    view.y += py / view.k - py / k;
    view.k = k;
    apply();
  }

  function centreOf(name) {
    var b = tables[name] && tables[name].box;
    return b ? { x: b.x + b.w / 2, y: b.y + b.h / 2 } : null;
  }

  function shownBox() {
    var box = null;
    names.forEach(function (name) {
      if (!tables[name].g.classList.contains("off")) { box = union(box, tables[name].at || tables[name].box); }
    });
    return box || whole;
  }

  function groupOf(index) {
    return groups.filter(function (group) { return group.index === index; })[0];
  }

  function neighbours(name) {
    var set = {};
    set[name] = true;
    tables[name].edges.forEach(function (e) {
      if (!state.inferredOnly || e.inferred) { set[e.child] = true; set[e.parent] = true; }
    });
    return set;
  }

  // The chosen table in the middle, the tables it refers to in columns on its left, the tables referring to it
  // on its right, each side folded into as many columns as make the picture about the shape of the stage.
  function arrange(name, set) {
    var centre = tables[name];
    var left = [];
    var right = [];
    centre.edges.forEach(function (e) {
      if (!set[e.child] || !set[e.parent] || e.path.classList.contains("off")) { return; }
      if (e.child === name && e.parent !== name && left.indexOf(e.parent) < 0) { left.push(e.parent); }
    });
    centre.edges.forEach(function (e) {
      if (e.path.classList.contains("off")) { return; }
      if (e.parent === name && e.child !== name && left.indexOf(e.child) < 0 && right.indexOf(e.child) < 0) {
        right.push(e.child);
      }
    });
    left.sort();
    right.sort();
    var n = left.length + right.length;
    var s = size();
    var wide = 0;
    var tall = 0;
    left.concat(right).forEach(function (o) { wide = Math.max(wide, tables[o].box.w); tall += tables[o].box.h + 24; });
    // c columns of tall/c each are c * (wide + gap) wide: the shape of the stage when c = sqrt(aspect * tall / wide).
    var columns = n ? Math.max(2, Math.round(Math.sqrt((s.w / s.h) * tall / (wide + 60)))) : 2;
    // ... but never fold a side that fits the stage's height as it is.
    var perColumn = Math.max(1, Math.ceil(n / columns), n ? Math.floor((s.h - 2 * PAD) / (tall / n)) : 1);
    var origin = { x: centre.box.x, y: centre.box.y };
    var placed = {};
    placed[name] = { x: origin.x, y: origin.y };
    function side(list, direction) {
      var columns = [];
      for (var i = 0; i < list.length; i += perColumn) { columns.push(list.slice(i, i + perColumn)); }
      var x = direction < 0 ? origin.x - 96 : origin.x + centre.box.w + 96;
      columns.forEach(function (column) {
        var width = Math.max.apply(null, column.map(function (o) { return tables[o].box.w; }));
        var height = column.reduce(function (sum, o) { return sum + tables[o].box.h + 24; }, -24);
        var y = origin.y + centre.box.h / 2 - height / 2;
        column.forEach(function (o) {
          var b = tables[o].box;
          placed[o] = { x: direction < 0 ? x - width + (width - b.w) : x, y: y };
          y += b.h + 24;
        });
        x += direction * (width + 48);
      });
    }
    side(left, -1);
    side(right, 1);
    names.forEach(function (other) { if (set[other]) { move(other, placed[other] || tables[other].box); } });
    centre.edges.forEach(function (e) { if (placed[e.child] && placed[e.parent]) { redraw(e); } });
  }

  function move(name, at) {
    var t = tables[name];
    t.at = { x: at.x, y: at.y, w: t.box.w, h: t.box.h };
    if (at.x === t.box.x && at.y === t.box.y) { t.g.removeAttribute("transform"); } else {
      t.g.setAttribute("transform", "translate(" + (at.x - t.box.x).toFixed(1) + "," + (at.y - t.box.y).toFixed(1) +
        ")");
    }
  }

  // As the report draws an edge: leave the child on the side facing the parent, arrive at the parent's side.
  function redraw(e) {
    var c = tables[e.child].at || tables[e.child].box;
    var p = tables[e.parent].at || tables[e.parent].box;
    var y1 = c.y + e.rows[0];
    var y2 = p.y + e.rows[1];
    var x1, d1, x2, d2;
    if (p.x + p.w <= c.x) { x1 = c.x; d1 = -1; x2 = p.x + p.w; d2 = 1; }
    else if (p.x >= c.x + c.w) { x1 = c.x + c.w; d1 = 1; x2 = p.x; d2 = -1; }
    else { x1 = c.x + c.w; d1 = 1; x2 = p.x + p.w; d2 = 1; }
    var bend = d1 !== d2 ? Math.max(36, Math.abs(x2 - x1) / 2) : 30 + Math.min(90, Math.abs(y2 - y1) / 4);
    e.path.setAttribute("d", "M" + x1.toFixed(1) + "," + y1.toFixed(1) + " C" + (x1 + d1 * bend).toFixed(1) + "," +
      y1.toFixed(1) + " " + (x2 + d2 * bend).toFixed(1) + "," + y2.toFixed(1) + " " + (x2 + d2 * 2).toFixed(1) + "," +
      y2.toFixed(1));
  }

  function unarrange() {
    names.forEach(function (name) {
      if (tables[name].at) { tables[name].g.removeAttribute("transform"); tables[name].at = null; }
    });
    edges.forEach(function (e) { if (e.path.getAttribute("d") !== e.d) { e.path.setAttribute("d", e.d); } });
  }

  // Show what the three filters leave, say so in one line, and fit the view to it.
  function refresh(refit) {
    var focus = state.table && tables[state.table] ? neighbours(state.table) : null;
    var home = focus ? tables[state.table].component : state.component;
    var shownTables = 0;
    var shownEdges = 0;
    groups.forEach(function (group) {
      group.g.classList.toggle("off", home !== "" && group.index !== home);
      group.g.classList.toggle("focused", !!focus && group.index === home);
    });
    names.forEach(function (name) {
      var t = tables[name];
      var off = (home !== "" && t.component !== home) || (!!focus && !focus[name]);
      var faint = !off && state.inferredOnly && !t.edges.some(function (e) { return e.inferred; });
      t.g.classList.toggle("off", off);
      t.g.classList.toggle("faint", faint);
      t.g.classList.toggle("chosen", name === state.table);
      if (!off) { shownTables += 1; }
    });
    edges.forEach(function (e) {
      var off = (state.inferredOnly && !e.inferred) || tables[e.child].g.classList.contains("off") ||
        tables[e.parent].g.classList.contains("off") ||
        (!!focus && e.child !== state.table && e.parent !== state.table);
      e.path.classList.toggle("off", off);
      if (!off) { shownEdges += 1; }
    });
    var what = focus ? state.table + " and its " + (shownTables - 1) + " neighbour" + (shownTables === 2 ? "" : "s")
      : home !== "" ? picker.options[picker.selectedIndex].text : "all " + names.length + " tables";
    unarrange();
    if (focus) { arrange(state.table, focus); }
    status.textContent = "Showing " + what + ": " + shownTables + " table" + (shownTables === 1 ? "" : "s") +
      ", " + shownEdges + (state.inferredOnly ? " missing" : "") + " key" + (shownEdges === 1 ? "" : "s") + ".";
    if (refit) { fit(!focus && home !== "" ? groupOf(home).box : shownBox(), false); }
  }

  function find(text) {
    var wanted = text.trim().toLowerCase();
    if (!wanted) { return ""; }
    var exact = names.filter(function (n) { return n.toLowerCase() === wanted; });
    if (exact.length) { return exact[0]; }
    var partial = names.filter(function (n) { return n.toLowerCase().indexOf(wanted) >= 0; });
    return partial.length === 1 ? partial[0] : null;
  }

  function choose(text) {
    var name = find(text);
    names.forEach(function (n) { tables[n].g.classList.remove("hit"); });
    if (name === null) {
      var wanted = text.trim().toLowerCase();
      var hits = names.filter(function (n) { return n.toLowerCase().indexOf(wanted) >= 0; });
      hits.forEach(function (n) { tables[n].g.classList.add("hit"); });
      status.textContent = hits.length ? hits.length + " tables match \u201c" + text.trim() +
        "\u201d (highlighted); pick one from the list or type more." : "No table matches \u201c" + text.trim() + "\u201d.";
      return;
    }
    state.table = name;
    refresh(true);
  }

  input.addEventListener("input", function () { choose(input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; choose(""); }
    if (event.key === "Enter") {  // the first of several tables that match what was typed
      var wanted = input.value.trim().toLowerCase();
      var first = wanted && names.filter(function (n) { return n.toLowerCase().indexOf(wanted) >= 0; }).sort()[0];
      if (first) { input.value = first; choose(first); }
    }
  });
  picker.addEventListener("change", function () {
    state.component = picker.value;
    state.table = "";
    input.value = "";
    refresh(true);
  });
  toggle.addEventListener("change", function () {
    state.inferredOnly = toggle.checked;
    refresh(!!state.table);
  });
  bar.querySelector(".er-in").addEventListener("click", function () {
    var s = size();
    zoomAt(1.25, s.w / 2, s.h / 2);
  });
  bar.querySelector(".er-out").addEventListener("click", function () {
    var s = size();
    zoomAt(0.8, s.w / 2, s.h / 2);
  });
  bar.querySelector(".er-fit").addEventListener("click", function () {
    fit(!state.table && state.component !== "" ? groupOf(state.component).box : shownBox(), false);
  });
  bar.querySelector(".er-reset").addEventListener("click", function () {
    state = { component: "", table: "", inferredOnly: false };
    input.value = "";
    picker.value = "";
    toggle.checked = false;
    refresh(false);
    fit(whole, false);
  });

  stage.addEventListener("wheel", function (event) {
    event.preventDefault();
    var r = svg.getBoundingClientRect();
    var delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(Math.exp(-delta * 0.0015), event.clientX - r.left, event.clientY - r.top);
  }, { passive: false });

  // Dragging pans; a press without movement stays a click (a table's link, or choosing a table).
  var drag = null;
  stage.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) { return; }
    drag = { x: event.clientX, y: event.clientY, moved: false, id: event.pointerId };
  });
  stage.addEventListener("pointermove", function (event) {
    if (!drag) { return; }
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) { return; }
    if (!drag.moved) { stage.setPointerCapture(drag.id); stage.classList.add("dragging"); }
    drag.moved = true;
    view.x -= dx / view.k;
    view.y -= dy / view.k;
    drag.x = event.clientX;
    drag.y = event.clientY;
    apply();
  });
  function release() {
    if (drag && drag.moved) { stage.classList.remove("dragging"); }
    stage.suppress = !!(drag && drag.moved);
    drag = null;
  }
  stage.addEventListener("pointerup", release);
  stage.addEventListener("pointercancel", release);
  stage.addEventListener("click", function (event) {
    if (stage.suppress) { event.preventDefault(); stage.suppress = false; return; }
    var g = event.target.closest ? event.target.closest("g.table") : null;
    if (g && !event.target.closest("a")) {
      input.value = g.getAttribute("data-table");
      choose(input.value);
    }
  }, true);
  window.addEventListener("resize", function () { apply(); });
  // The keyboard does what the mouse does once the picture has the focus: + and - zoom, arrows move, 0 fits.
  stage.addEventListener("keydown", function (event) {
    var s = size();
    var step = 80 / view.k;
    var moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key === "+" || event.key === "=") { zoomAt(1.25, s.w / 2, s.h / 2); }
    else if (event.key === "-") { zoomAt(0.8, s.w / 2, s.h / 2); }
    else if (event.key === "0") { fit(shownBox(), false); }
    else if (moves[event.key]) { view.x += moves[event.key][0]; view.y += moves[event.key][1]; apply(); }
    else { return; }
    event.preventDefault();
  });
  // Printed, the picture shows everything the filters leave, then returns to the view on screen.
  var onScreen = null;
  window.addEventListener("beforeprint", function () { onScreen = view; fit(shownBox(), false); });
  window.addEventListener("afterprint", function () { if (onScreen) { view = onScreen; apply(); } });

  // Open on something readable: everything when it fits at reading size, else the largest component (read
  // around its most connected table when even that is too big for the screen).
  bar.hidden = false;
  status.hidden = false;
  stage.classList.add("live");
  stage.tabIndex = 0;
  stage.setAttribute("aria-label", "Diagram: drag or use the arrow keys to move, + and - to zoom, 0 to fit");
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  var top = stage.getBoundingClientRect().top + window.scrollY;
  stage.style.height = Math.round(Math.max(360, Math.min(whole.h + 2 * PAD, window.innerHeight - top - 44))) + "px";
  refresh(false);
  var s0 = size();
  var first = groups[0];
  if (!first || Math.min(s0.w / (whole.w + 2 * PAD), s0.h / (whole.h + 2 * PAD)) >= READABLE) {
    fit(whole, false);
  } else {
    // A component a little too big is read from its middle, a much bigger one around its most connected table.
    var overflow = Math.max((first.box.w + 2 * PAD) * READABLE / s0.w, (first.box.h + 2 * PAD) * READABLE / s0.h);
    fit(first.box, true, overflow < 1.6 ? null : centreOf(first.hub));
    if (groups.length > 1) {
      status.textContent += " Opened on the largest component (" + first.tables.length + " tables, around " +
        first.hub + ") at reading size: drag or zoom out to see more, or pick a component.";
    }
  }
  svg.setAttribute("data-ready", "1");
}());

// tinygrad_lite backprop explorer: everything below runs from the data embedded in this page.
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("explorer-data").textContent);
  var T = D.tensors, O = D.ops;
  var NF = D.forward.length, NB = D.backward.length;
  var S = { step: 0, layout: "base", selected: null, zoom: 0, history: [] };
  // backward step number of every op, and which tensors have their full gradient after each step
  var bstepOf = {};
  D.backward.forEach(function (s, i) { bstepOf[s.op] = i + 1; });
  var fstepOf = {};
  D.forward.forEach(function (o, i) { fstepOf[o] = i + 1; });

  function el(tag, attrs, html) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (html !== undefined) e.innerHTML = html;
    return e;
  }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function num(v) { return typeof v === "string" ? Number(v) : v; }
  function fmt(v) {
    v = num(v);
    if (v !== v) return "nan";
    if (v === Infinity) return "inf";
    if (v === -Infinity) return "-inf";
    if (v === 0) return "0";
    return String(Number(v.toPrecision(4)));
  }
  function shapeText(s) { return "(" + s.join(", ") + (s.length === 1 ? "," : "") + ")"; }
  function tref(tid) {
    var t = T[tid];
    return '<a class="tref" data-select="' + tid + '">' + esc(t.label) + "</a>";
  }

  // ---------------------------------------------------------------- arrays: numbers or heat map
  function statsLine(a) {
    if (a.min === undefined) return a.n ? "" : "empty";
    var s = "min " + fmt(a.min) + " · mean " + fmt(a.mean) + " · max " + fmt(a.max);
    if (a.norm !== undefined) s += " · ‖·‖ " + fmt(a.norm);
    if (a.nonfinite) s += ' · <b style="color:#d00">' + a.nonfinite + " NaN/Inf</b>";
    return s;
  }
  function numbersTable(a) {
    var cols = a.shape.length ? a.shape[a.shape.length - 1] : 1;
    if (cols === 0) return '<span class="none">empty</span>';
    var h = '<table class="nums">';
    for (var r = 0; r < a.v.length / cols; r++) {
      h += "<tr>";
      for (var c = 0; c < cols; c++) h += '<td class="num">' + fmt(a.v[r * cols + c]) + "</td>";
      h += "</tr>";
    }
    return h + "</table>";
  }
  function heatColor(q) {
    if (q === 0) return [255, 0, 255];
    var t = (q - 128) / 127;
    var w = 1 - Math.abs(t);
    if (t < 0) return [Math.round(49 + (255 - 49) * w), Math.round(99 + (255 - 99) * w), Math.round(178 + (255 - 178) * w)];
    return [Math.round(200 + 55 * w), Math.round(40 + 215 * w), Math.round(40 + 215 * w)];
  }
  function heatCanvas(hm) {
    var bytes = atob(hm.q);
    var cell = Math.max(2, Math.min(12, Math.floor(300 / hm.cols)));
    var cellH = hm.rows <= 2 ? Math.max(cell, 12) : cell;   // a vector stays a visible strip
    var cv = el("canvas", { width: hm.cols * cell, height: hm.rows * cellH });
    var ctx = cv.getContext("2d");
    for (var r = 0; r < hm.rows; r++) {
      for (var c = 0; c < hm.cols; c++) {
        var rgb = heatColor(bytes.charCodeAt(r * hm.cols + c));
        ctx.fillStyle = "rgb(" + rgb[0] + "," + rgb[1] + "," + rgb[2] + ")";
        ctx.fillRect(c * cell, r * cellH, cell, cellH);
      }
    }
    return cv;
  }
  // one array block: header, numbers or heat map, stats; role/tensor are read by tests and links
  function arrBlock(a, title, role, tid) {
    var box = el("div", { "class": "arr", "data-role": role || "", "data-tensor": tid || "" });
    if (!a) { box.innerHTML = '<div class="head">' + title + '</div><span class="none">no gradient</span>'; return box; }
    if (a.freed) { box.innerHTML = '<div class="head">' + title + " <span class=sub>" + shapeText(a.shape) + " " + esc(a.dtype) + '</span></div><span class="none" data-role="freed">' + esc(a.freed) + "</span>"; return box; }
    box.appendChild(el("div", { "class": "head" }, title + " <span class=sub>" + shapeText(a.shape) + " " + esc(a.dtype) + "</span>"));
    if (a.v) {
      box.appendChild(el("div", { "class": "numbers" }, numbersTable(a)));
    } else if (a.heat) {
      var h = el("div", { "class": "heat" });
      h.appendChild(heatCanvas(a.heat));
      var samp = a.heat.sampled[0] || a.heat.sampled[1] ? " (sampled " + a.heat.rows + "×" + a.heat.cols + ")" : "";
      h.appendChild(el("div", { "class": "stats" }, "heat map" + samp + ": " + fmt(-num(a.heat.scale)) +
        '<span class="scale"></span>' + fmt(a.heat.scale) + ", rows = all but the last dim"));
      box.appendChild(h);
    }
    box.appendChild(el("div", { "class": "stats" }, statsLine(a)));
    return box;
  }

  // ---------------------------------------------------------------- page skeleton
  var header = el("header");
  header.innerHTML = "<h1>" + esc(D.title || "backprop explorer") + "</h1>" +
    '<button id="btn-first" title="start (Home)">« start</button>' +
    '<button id="btn-prev" title="previous step (←)">◀ prev</button>' +
    '<button id="btn-next" title="next step (→)">next ▶</button>' +
    '<button id="btn-last" title="last step (End)">end »</button>' +
    '<button id="btn-backward" title="jump to the first backward step">backward ⤵</button>' +
    '<span id="step-label"></span><span class="hint">← → keys step · click a node for details</span>';
  document.body.appendChild(header);
  var timeline = el("div", { id: "timeline" });
  document.body.appendChild(timeline);
  var main = el("main");
  var gpane = el("div", { id: "graph-pane" });
  var tools = el("div", { id: "graph-tools" });
  tools.innerHTML = '<button id="btn-fit">fit</button><button id="btn-zin">+</button><button id="btn-zout">−</button>' +
    '<button id="btn-up" title="close the opened module">⇧ close module</button><button id="btn-overview">overview</button>' +
    '<span id="layout-label"></span><span id="inside-label"></span><span class="legend-keys">' +
    '<span><i style="background:#e8590c"></i>current op</span><span><i style="background:#1971c2"></i>inputs (forward)</span>' +
    '<span><i style="background:#2b8a3e"></i>gradient arriving</span><span><i style="background:#c2255c"></i>gradient leaving</span>' +
    '<span><i style="background:#7b2cbf"></i>⊕ accumulating</span></span>';
  var graph = el("div", { id: "graph" });
  gpane.appendChild(tools);
  gpane.appendChild(graph);
  var panel = el("div", { id: "panel" });
  main.appendChild(gpane);
  main.appendChild(panel);
  document.body.appendChild(main);

  var chips = [];
  function addChip(i, text, cls) {
    var c = el("span", { "class": "chip " + cls, "data-step": String(i) }, esc(text));
    c.addEventListener("click", function () { go(i); });
    timeline.appendChild(c);
    chips.push(c);
  }
  addChip(0, "start", "");
  D.forward.forEach(function (o, i) { addChip(i + 1, "F" + (i + 1) + " " + O[o].name, "fw"); });
  D.backward.forEach(function (s, i) { addChip(NF + i + 1, "B" + (i + 1) + " " + O[s.op].name, "bw"); });

  // ---------------------------------------------------------------- the SVG graph
  var nodeEls = {}, edgeEls = {};
  function layout() { return D.layouts[S.layout]; }
  function showLayout(key) {
    S.layout = key;
    var L = layout();
    graph.innerHTML = L.svg;
    nodeEls = {}; edgeEls = {};
    graph.querySelectorAll("g.node").forEach(function (g) {
      var t = g.querySelector("title");
      if (!t) return;
      var id = t.textContent;
      nodeEls[id] = g;
      if (L.boxes[id] !== undefined) g.classList.add("box");
      g.addEventListener("click", function (ev) { ev.stopPropagation(); clickNode(id); });
    });
    graph.querySelectorAll("g.edge").forEach(function (g) {
      var t = g.querySelector("title");
      if (t) edgeEls[t.textContent] = (edgeEls[t.textContent] || []).concat([g]);
    });
    document.getElementById("layout-label").textContent = L.opened ? "module " + L.opened + " opened" : "";
    document.getElementById("btn-up").disabled = !L.parent;
    applyZoom();
  }
  function applyZoom() {
    var svg = graph.querySelector("svg");
    if (!svg) return;
    if (!S.natural) S.natural = {};
    var key = S.layout;
    if (!S.natural[key]) S.natural[key] = [parseFloat(svg.getAttribute("width")), parseFloat(svg.getAttribute("height"))];
    var w = S.natural[key][0], h = S.natural[key][1];
    var f = S.zoom === 0 ? Math.min(1.3, (graph.clientWidth - 14) / w) : S.zoom;
    if (!(f > 0)) f = 1;
    svg.setAttribute("width", (w * f) + "pt");
    svg.setAttribute("height", (h * f) + "pt");
  }
  function nodeOf(id) { return layout().node_of[id]; }
  function mark(id, cls) { var n = nodeOf(id); if (n && nodeEls[n]) nodeEls[n].classList.add(cls); }
  function edgeMark(fromId, toId, cls) {
    var a = nodeOf(fromId), b = nodeOf(toId);
    if (!a || !b || a === b) return;
    (edgeEls[a + "->" + b] || []).forEach(function (g) { g.classList.add(cls); });
  }
  function srcOf(tid) { return T[tid].producer || tid; }   // the drawn node that shows tensor tid

  function clickNode(nid) {
    var L = layout();
    if (L.boxes[nid] !== undefined) {
      var target = (L.expand || {})[nid];
      if (target) { S.history.push(S.layout); showLayout(target); highlight(); }
      S.selected = { box: L.boxes[nid], node: nid, expandable: !!target, why: (L.closed_why || {})[nid] };
      renderPanel();
      return;
    }
    S.selected = { node: nid };
    highlight();
    renderPanel();
  }

  // ---------------------------------------------------------------- highlighting a step
  function phase() { return S.step === 0 ? "start" : S.step <= NF ? "forward" : "backward"; }
  function currentOp() {
    if (S.step === 0) return null;
    return S.step <= NF ? D.forward[S.step - 1] : D.backward[S.step - NF - 1].op;
  }
  function highlight() {
    Object.keys(nodeEls).forEach(function (k) { nodeEls[k].classList.remove("cur", "src", "recv", "accum", "gdone", "future", "sel"); });
    Object.keys(edgeEls).forEach(function (k) { edgeEls[k].forEach(function (g) { g.classList.remove("fin", "gin", "gout"); }); });
    var op = currentOp(), ph = phase();
    if (ph === "forward") {
      // ops not yet run are faded
      D.forward.forEach(function (o, i) { if (i + 1 > S.step) mark(o, "future"); });
      D.forward.forEach(function (o, i) { if (i + 1 <= S.step) { var n = nodeOf(o); if (n && nodeEls[n]) nodeEls[n].classList.remove("future"); } });
      O[op].inputs.forEach(function (tid) { mark(srcOf(tid), "src"); edgeMark(srcOf(tid), op, "fin"); });
      mark(op, "cur");
    } else if (ph === "backward") {
      var k = S.step - NF;
      // tensors whose gradient is complete: the root, and every input of an op already run whose other uses are done
      Object.keys(T).forEach(function (tid) {
        var t = T[tid];
        if (t.producer === null && t.uses > 0 && t.consumers.every(function (c) { return bstepOf[c] <= k; })) mark(tid, "gdone");
      });
      for (var i = 0; i < k - 1; i++) mark(D.backward[i].op, "gdone");
      O[op].sends.forEach(function (s, i) {
        var tid = O[op].inputs[i];
        if (s) { mark(srcOf(tid), "recv"); edgeMark(srcOf(tid), op, "gout"); }
      });
      D.backward[k - 1].accum.forEach(function (a) { mark(srcOf(a.to), "accum"); });
      T[O[op].output].consumers.forEach(function (c) { edgeMark(op, c, "gin"); });
      mark(op, "cur");
    }
    if (S.selected && S.selected.node && nodeEls[S.selected.node]) nodeEls[S.selected.node].classList.add("sel");
    chips.forEach(function (c, i) { c.classList.toggle("cur", i === S.step); c.classList.toggle("done", i < S.step); });
    var cur = chips[S.step];
    if (cur && cur.scrollIntoView) cur.scrollIntoView({ block: "nearest", inline: "nearest" });
    var inBox = op && layout().boxes[nodeOf(op)];
    document.getElementById("inside-label").textContent = inBox ? "the current op is inside " + inBox + " (click the box to open it)" : "";
    if (op) {
      var n = nodeOf(op);
      if (n && nodeEls[n] && nodeEls[n].scrollIntoView) nodeEls[n].scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  }

  // ---------------------------------------------------------------- the panel
  function opHead(o) {
    var h = "<h2>" + esc(o.name) + (o.args ? " <span class=sub>" + esc(o.args) + "</span>" : "") + "</h2>";
    if (o.module) h += '<div class="sub">module ' + esc(o.module) + "</div>";
    if (o.math) h += '<div class="math" title="the op\'s math, from its row in the op registry">math: ' + esc(o.math) + "</div>";
    return h;
  }
  function ioLine(o) {
    return '<div class="note">' + o.inputs.map(function (tid, i) { return esc(o.arg_names[i]) + " = " + tref(tid) + " " + shapeText(T[tid].shape); }).join(", ") +
      " → C = " + tref(o.output) + " " + shapeText(T[o.output].shape) + "</div>";
  }
  function forwardPanel(k) {
    var o = O[D.forward[k - 1]];
    panel.innerHTML = '<div class="sub" id="panel-step">forward step ' + k + " of " + NF + ": the op computes its result from its inputs</div>" + opHead(o) + ioLine(o);
    if (o.forward_text) panel.appendChild(el("div", { "class": "formula", "data-role": "forward-formula" }, esc(o.forward_text)));
    panel.appendChild(el("h3", null, "inputs"));
    o.inputs.forEach(function (tid, i) { panel.appendChild(arrBlock(T[tid].value, "<b>" + esc(o.arg_names[i]) + "</b> = " + tref(tid), "input", tid)); });
    panel.appendChild(el("h3", null, "result"));
    panel.appendChild(arrBlock(T[o.output].value, "<b>C</b> = " + tref(o.output), "value", o.output));
  }
  function backwardPanel(k) {
    var st = D.backward[k - 1], o = O[st.op], out = T[o.output];
    panel.innerHTML = '<div class="sub" id="panel-step">backward step ' + k + " of " + NB + ": the op's rule turns the gradient of its result into gradients of its inputs</div>" + opHead(o) + ioLine(o);
    panel.appendChild(el("div", { "class": "rule" }, "backward rule: " + esc(o.rule)));
    panel.appendChild(el("h3", null, "gradient arriving"));
    var arr = el("div", { "class": "arrive" });
    var why;
    if (o.output === D.root) why = "the seed: d(" + esc(out.label) + ")/d(itself) = " + (out.value.n === 1 ? "1" : "ones");
    else if (out.uses > 1) why = "the sum of the gradients from its " + out.uses + " uses (backward steps " + out.consumers.map(function (c) { return bstepOf[c]; }).join(", ") + ")";
    else why = "from its one use (backward step " + out.consumers.map(function (c) { return bstepOf[c]; }).join(", ") + ")";
    arr.appendChild(el("div", { "class": "note" }, why));
    arr.appendChild(arrBlock(out.grad, "<b>dC</b> = d loss / d " + tref(o.output), "grad-in", o.output));
    panel.appendChild(arr);
    panel.appendChild(el("h3", null, "gradients leaving"));
    o.inputs.forEach(function (tid, i) {
      var s = o.sends[i], t = T[tid];
      var box = el("div", { "class": "send" });
      if (!s) {
        box.innerHTML = "<b>d" + esc(o.arg_names[i]) + "</b> → " + tref(tid) + ': <span class="none">' + (o.freed && t.requires_grad ?
          "not kept: backward() freed what this op saved (backward(retain_graph=True) keeps it)" : "no gradient (" + esc(t.kind) + ", does not require grad)") + "</span>";
        panel.appendChild(box);
        return;
      }
      if (s.text) box.appendChild(el("div", { "class": "formula", "data-role": "backward-formula" }, esc(s.text)));
      box.appendChild(arrBlock(s.grad, "<b>d" + esc(o.arg_names[i]) + "</b> → " + tref(tid), "grad-out", tid));
      if (s.summed) box.appendChild(el("div", { "class": "note" }, "Σ summed over broadcast dims: " + shapeText(s.raw_shape) + " → " + shapeText(t.shape)));
      if (t.uses === 1) {
        box.appendChild(el("div", { "class": "note" }, t.producer === null ? "its only use: this is " + esc(t.label) + "'s .grad after backward()" :
          "its only use: this is the whole gradient of " + esc(t.label) + " (its op runs at backward step " + bstepOf[t.producer] + ")"));
      }
      panel.appendChild(box);
    });
    st.accum.forEach(function (a) {
      var t = T[a.to];
      var box = el("div", { "class": "acc", "data-role": "accum", "data-tensor": a.to });
      box.appendChild(el("div", { "class": "eq" }, "⊕ " + esc(t.label) + " is used " + a.of + " times: gradient " + a.k + " of " + a.of + " arrives"));
      box.appendChild(el("div", { "class": "note" }, "contributions so far: " + a.from.map(function (f) {
        return "step " + f.step + " (" + esc(O[f.op].name) + ", as " + esc(O[f.op].arg_names[f.arg]) + ")"; }).join(" + ")));
      // written as a column addition: earlier sum, + this step's gradient, = the new sum
      var terms = el("div", { "class": "terms" });
      if (a.before) {
        terms.appendChild(el("span", { "class": "plus" }, ""));
        terms.appendChild(arrBlock(a.before, "sum of the earlier " + (a.k - 1), "partial-before", a.to));
      }
      terms.appendChild(el("span", { "class": "plus" }, a.before ? "+" : ""));
      terms.appendChild(arrBlock(a.add, "this step's gradient", "partial-add", a.to));
      terms.appendChild(el("span", { "class": "plus" }, "="));
      terms.appendChild(arrBlock(a.after, a.complete ? "<b>total</b>" : "running sum", a.complete ? "partial-total" : "partial-after", a.to));
      box.appendChild(terms);
      box.appendChild(el("div", { "class": "note" }, a.complete ?
        "complete: all " + a.of + " uses have sent their gradient; this is d loss / d " + esc(t.label) + (t.producer === null ? " (its .grad after backward())" : ", which its own op passes on at backward step " + bstepOf[t.producer]) :
        (a.of - a.k) + " more to come; the engine waits until every use has contributed before it runs the tensor's own op"));
      panel.appendChild(box);
    });
  }
  function startPanel() {
    var leaves = Object.keys(T).filter(function (k) { return T[k].producer === null && T[k].requires_grad; });
    panel.innerHTML = '<div class="sub" id="panel-step">start</div><h2>' + esc(D.title || "backprop explorer") + "</h2>" +
      (NF === 0 ? "<p><b>No ops were recorded behind this tensor</b>: it is a leaf, or nothing it was computed from requires grad (the engine records ops only then). Set requires_grad=True on a parameter or input and compute it again.</p>" : "") +
      "<p>" + NF + " ops. Press → (or <b>next</b>) to run them forward one by one in the order they were made, then backward in the order the engine runs them: newest result first.</p>" +
      "<p>A backward step shows the gradient <b style=color:#2b8a3e>arriving</b> at the op's result, its rule applied to the numbers, the gradients <b style=color:#c2255c>leaving</b> to its inputs, and <b style=color:#7b2cbf>⊕</b> where several uses of one tensor add their gradients up.</p>" +
      "<p>Tensors with at most " + D.small + " numbers show them; larger ones show a heat map (blue negative, red positive) with min/mean/max.</p>" +
      "<h3>parameters and inputs that get a gradient</h3>" + (leaves.length ? leaves.map(function (k) { return tref(k) + " " + shapeText(T[k].shape); }).join("<br>") : '<span class="none">none</span>');
  }
  function tensorPanel(tid, extra) {
    var t = T[tid];
    panel.appendChild(arrBlock(t.value, "value of " + tref(tid), "value", tid));
    panel.appendChild(arrBlock(t.grad, "gradient d loss / d " + tref(tid), "grad", tid));
    var u = t.consumers.length ? "used by backward steps " + t.consumers.map(function (c) { return bstepOf[c]; }).join(", ") : "not used by another op";
    panel.appendChild(el("div", { "class": "note" }, esc(t.kind) + (t.requires_grad ? ", requires grad" : ", no gradient") + "; " + u +
      (t.uses > 1 ? " (its gradients add up: ⊕)" : "")));
  }
  function nodePanel() {
    var sel = S.selected, L = layout();
    if (sel.box) {
      panel.innerHTML = '<div class="sub" id="panel-step">module</div><h2>' + esc(sel.box) + "</h2>" +
        (sel.expandable ? "<p>opened: its ops are drawn now; <b>⇧ close module</b> goes back.</p>" : "<p>This module cannot be opened here: " + esc(sel.why || "it has no ops of its own") + "</p>");
      return;
    }
    var found = sel.tensor ? [T[sel.tensor].producer || sel.tensor] :
      Object.keys(L.node_of).filter(function (k) { return L.node_of[k] === sel.node; });
    var op = found.filter(function (k) { return O[k]; })[0];
    panel.innerHTML = "";
    if (op) {
      var o = O[op];
      panel.innerHTML = '<div class="sub" id="panel-step">op (forward step ' + fstepOf[op] + ", backward step " + o.backward_step + ")</div>" + opHead(o) + ioLine(o) +
        '<div class="rule">backward rule: ' + esc(o.rule) + "</div>";
      if (o.forward_text) panel.appendChild(el("div", { "class": "formula" }, esc(o.forward_text)));
      tensorPanel(o.output);
    } else if (found.length) {
      var tid = found[0], t = T[tid];
      panel.innerHTML = '<div class="sub" id="panel-step">tensor</div><h2>' + esc(t.label) + "</h2>" +
        '<div class="sub">' + esc(t.kind) + (t.module ? " · module " + esc(t.module) : "") + "</div>";
      tensorPanel(tid);
    } else {
      panel.innerHTML = '<div class="sub" id="panel-step">legend</div><p>The legend of the picture.</p>';
    }
  }
  function renderPanel() {
    if (S.selected) nodePanel();
    else if (phase() === "forward") forwardPanel(S.step);
    else if (phase() === "backward") backwardPanel(S.step - NF);
    else startPanel();
    panel.querySelectorAll("a.tref").forEach(function (a) {
      a.addEventListener("click", function () {
        var tid = a.getAttribute("data-select");
        S.selected = { node: nodeOf(T[tid].producer || tid), tensor: tid };
        highlight();
        renderPanel();
      });
    });
  }

  // ---------------------------------------------------------------- stepping
  function stepLabel() {
    var ph = phase(), op = currentOp();
    var lab = document.getElementById("step-label");
    if (ph === "start") lab.innerHTML = "start";
    else if (ph === "forward") lab.innerHTML = '<span class="phase-forward">forward ' + S.step + " / " + NF + "</span>: " + esc(O[op].name);
    else lab.innerHTML = '<span class="phase-backward">backward ' + (S.step - NF) + " / " + NB + "</span>: " + esc(O[op].name);
    document.body.setAttribute("data-phase", ph);
    document.body.setAttribute("data-step", String(ph === "backward" ? S.step - NF : S.step));
    document.body.setAttribute("data-op", op || "");
    document.getElementById("btn-prev").disabled = S.step === 0;
    document.getElementById("btn-first").disabled = S.step === 0;
    document.getElementById("btn-next").disabled = S.step === NF + NB;
    document.getElementById("btn-last").disabled = S.step === NF + NB;
  }
  function go(i) {
    S.step = Math.max(0, Math.min(NF + NB, i));
    S.selected = null;
    stepLabel();
    highlight();
    renderPanel();
  }
  document.getElementById("btn-next").addEventListener("click", function () { go(S.step + 1); });
  document.getElementById("btn-prev").addEventListener("click", function () { go(S.step - 1); });
  document.getElementById("btn-first").addEventListener("click", function () { go(0); });
  document.getElementById("btn-last").addEventListener("click", function () { go(NF + NB); });
  document.getElementById("btn-backward").addEventListener("click", function () { go(NF + 1); });
  document.getElementById("btn-fit").addEventListener("click", function () { S.zoom = 0; applyZoom(); });
  document.getElementById("btn-zin").addEventListener("click", function () { S.zoom = (S.zoom || currentFactor()) * 1.25; applyZoom(); });
  document.getElementById("btn-zout").addEventListener("click", function () { S.zoom = (S.zoom || currentFactor()) / 1.25; applyZoom(); });
  document.getElementById("btn-up").addEventListener("click", function () {
    var back = S.history.pop() || layout().parent;
    if (back) { showLayout(back); highlight(); renderPanel(); }
  });
  document.getElementById("btn-overview").addEventListener("click", function () { S.history = []; showLayout("base"); highlight(); renderPanel(); });
  function currentFactor() {
    var svg = graph.querySelector("svg"), nat = S.natural && S.natural[S.layout];
    return svg && nat ? parseFloat(svg.getAttribute("width")) / nat[0] : 1;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "ArrowRight" || ev.key === "ArrowDown") { go(S.step + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft" || ev.key === "ArrowUp") { go(S.step - 1); ev.preventDefault(); }
    else if (ev.key === "Home") { go(0); ev.preventDefault(); }
    else if (ev.key === "End") { go(NF + NB); ev.preventDefault(); }
  });
  window.addEventListener("resize", function () { if (S.zoom === 0) applyZoom(); });

  showLayout("base");
  go(0);
})();

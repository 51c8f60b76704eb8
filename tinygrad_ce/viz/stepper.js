// The stepper: shows the steps that Python computed (the JSON above). It computes nothing.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("stepper-data").textContent);
  const steps = data.steps;
  let k = 0;
  let timer = null;
  const $ = (id) => document.getElementById(id);

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  function num(v) {
    if (typeof v === "string") return v;  // nan, inf, -inf
    if (typeof v === "boolean") return v ? "True" : "False";
    if (Number.isInteger(v)) return String(v);
    return String(parseFloat(v.toPrecision(4)));
  }
  function arrText(a) {
    if (!Array.isArray(a)) return num(a);
    if (a.length && Array.isArray(a[0])) return "[" + a.map(arrText).join(",\n ") + "]";
    return "[" + a.map(num).join(", ") + "]";
  }
  function shapeText(shape) {
    return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")");
  }
  function valueHtml(info, cls) {
    let body;
    if ("values" in info) body = arrText(info.values);
    else {
      const s = info.summary;
      body = "mean " + num(s.mean) + "  std " + num(s.std) + "\nmin " + num(s.min) +
        "  max " + num(s.max);
    }
    return '<span class="shape">shape ' + shapeText(info.shape) + " " + esc(info.dtype) +
      '</span><div class="arr ' + (cls || "") + '">' + esc(body) + "</div>";
  }
  function ruleHtml(pieces) {
    return pieces.map(([text, generic]) =>
      generic ? '<var class="generic">' + esc(text) + "</var>" : esc(text)).join("");
  }

  function clearMarks() {
    document.querySelectorAll(".current, .upstream, .receives, .active").forEach((el) => {
      el.classList.remove("current", "upstream", "receives", "active");
    });
  }
  function mark(node, cls) {
    if (!node) return;
    document.querySelectorAll('[data-node="' + node + '"]').forEach((el) => el.classList.add(cls));
  }
  function markEdge(from, to) {
    if (!from || !to) return;
    document.querySelectorAll('g.edge[data-from="' + from + '"][data-to="' + to + '"]')
      .forEach((el) => el.classList.add("active"));
  }

  function body(step) {
    const out = ['<div class="phase">' + esc(step.phase) + "</div>"];
    if (step.text) out.push("<p>" + esc(step.text) + "</p>");
    if (step.declared) out.push('<div>the op computes <span class="rule">' +
      ruleHtml(step.declared) + "</span></div>");
    (step.values || []).forEach((v) => {
      out.push("<div><b>" + esc(v.label) + "</b> " + valueHtml(v) + "</div>");
    });
    if (step.phase === "seed") out.push("<div>g " + valueHtml(step.upstream, "grad") + "</div>");
    if (step.phase === "backward") {
      out.push('<div class="upstream-box">g = dL/d(<b>' + esc(step.label) + "</b>) arrives" +
        (step.g ? ': <div class="formula">g = ' + esc(step.g) + "</div>" : ": ") +
        valueHtml(step.upstream, "grad") + "</div>");
      step.sends.forEach((s) => {
        out.push('<div class="send"><div class="rule">' + ruleHtml(s.rule) + "</div>" +
          (s.formula ? '<div class="formula">' + esc(s.formula) + "</div>" : "") +
          "<div>sends to <b>" + esc(s.label) + "</b>" +
          (s.adds ? " (added to what it already has: +=)" : "") + ": " +
          valueHtml(s.value, "grad") + "</div>" +
          '<div class="jac">its Jacobian would have ' + s.jacobian.toLocaleString("en") +
          " entries: never built</div></div>");
      });
    }
    return out.join("");
  }

  function leafState(upto) {
    const state = {};
    for (let i = 0; i <= upto; i++) Object.assign(state, steps[i].leaf_updates || {});
    return state;
  }
  function renderLeaves() {
    const state = leafState(k);
    const fresh = steps[k].leaf_updates || {};
    const rows = data.leaves.map((leaf) => {
      const info = state[leaf.key];
      const value = info ? valueHtml(info, "grad") : '<span class="shape">None yet</span>';
      const values = info ? JSON.stringify("values" in info ? info.values : info.summary) : "";
      return '<tr data-leaf="' + esc(leaf.key) + "\" data-values='" + esc(values) + "'" +
        (leaf.key in fresh ? ' class="updated"' : "") + "><td><b>" + esc(leaf.label) +
        "</b>.grad</td><td>" + value + "</td></tr>";
    });
    $("leaves").innerHTML = rows.join("") ||
      '<tr><td>no leaf requires a gradient</td></tr>';
  }

  function render() {
    const step = steps[k];
    clearMarks();
    if (step.phase === "forward") {
      mark(step.op, "current");
      mark(step.node, "upstream");
      (step.reads || []).forEach((n) => mark(n, "receives"));
    } else if (step.phase === "seed") {
      mark(step.node, "upstream");
    } else if (step.phase === "backward") {
      mark(step.op, "current");
      mark(step.node, "upstream");
      step.sends.forEach((s) => { mark(s.to, "receives"); markEdge(s.to, step.op); });
    }
    $("step-title").textContent = step.title;
    $("step-body").innerHTML = body(step);
    const box = $("step-box");
    box.dataset.phase = step.phase;
    box.dataset.node = step.op || step.node || "";
    $("counter").textContent = "step " + k + " of " + (steps.length - 1);
    document.body.dataset.step = String(k);
    renderLeaves();
  }

  function go(i) { k = Math.max(0, Math.min(steps.length - 1, i)); render(); }
  function stop() { if (timer) { clearInterval(timer); timer = null; } $("play").innerHTML = "&#x25B6; play"; }
  function play() {
    if (timer) { stop(); return; }
    if (k === steps.length - 1) go(0);
    $("play").innerHTML = "&#x23F8; pause";
    const ms = Number(document.body.dataset.interval) || 900;  // a test may speed it up
    timer = setInterval(() => { if (k >= steps.length - 1) stop(); else go(k + 1); }, ms);
  }
  $("step").addEventListener("click", () => { stop(); go(k + 1); });
  $("back").addEventListener("click", () => { stop(); go(k - 1); });
  $("reset").addEventListener("click", () => { stop(); go(0); });
  $("play").addEventListener("click", play);
  document.addEventListener("keydown", (e) => {
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { stop(); go(k + 1); }
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { stop(); go(k - 1); }
    else if (e.key === "Home") { stop(); go(0); }
    else if (e.key === "End") { stop(); go(steps.length - 1); }
    else if (e.key === " ") { play(); }
    else return;
    e.preventDefault();
  });
  render();
})();

// GenZ report: the feature-timeline step slider (the paper's add/remove "video").
// Everything is rendered with textContent: item and feature text is never parsed as HTML.
(function () {
  "use strict";
  // the report's one number notation (page.py's _num): 4 significant digits, thousands separators
  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (v !== 0 && Math.abs(v) < 1e-9) return v.toExponential(3);
    return Number(v.toPrecision(4)).toLocaleString("en-US", {maximumFractionDigits: 12});
  }
  function setup(box) {
    var src = document.getElementById(box.getAttribute("data-src"));
    if (!src) return;
    var data = JSON.parse(src.textContent);
    var steps = data.steps;
    var slider = box.querySelector("input[type=range]");
    var label = box.querySelector(".steplabel");
    var list = box.querySelector(".featlist");
    var play = box.querySelector("button.play");
    var cursor = box.querySelector(".cursor");
    var img = box.querySelector(".imgwrap img");
    var timer = null;
    if (!steps.length) { label.textContent = "no steps recorded yet"; slider.disabled = true; play.disabled = true; return; }
    slider.max = String(steps.length - 1);
    function placeCursor(i) {
      if (!cursor || !img || !img.clientWidth || !data.axes) return;
      var ax = data.axes, n = Math.max(ax.steps, 1);
      var x = (ax.left + (i + 0.5) / n * (ax.right - ax.left)) * img.clientWidth;
      cursor.style.left = (x - 1) + "px";
      cursor.style.top = (ax.top * img.clientHeight) + "px";
      cursor.style.height = ((ax.bottom - ax.top) * img.clientHeight) + "px";
    }
    function show(i) {
      var s = steps[i];
      var prev = i > 0 ? steps[i - 1].features : [];
      var text = "step " + s.step + (s.cycle !== null && s.cycle !== undefined ? " · cycle " + s.cycle : "") +
                 " · " + s.action + (s.feature ? " “" + s.feature + "”" : "") + " · K=" + s.features.length;
      if (data.metric) text += " · train " + data.metric + " " + fmt(s.train) + " · test " + fmt(s.test);
      label.textContent = text;
      while (list.firstChild) list.removeChild(list.firstChild);
      s.features.forEach(function (f) {
        var li = document.createElement("li");
        li.textContent = f;
        if (prev.indexOf(f) < 0 && i > 0) li.className = "new";
        list.appendChild(li);
      });
      prev.forEach(function (f) {
        if (s.features.indexOf(f) < 0) {
          var li = document.createElement("li");
          li.textContent = f + " (removed)";
          li.className = "gone";
          list.appendChild(li);
        }
      });
      placeCursor(i);
    }
    function stop() { if (timer) { clearInterval(timer); timer = null; play.textContent = "▶ Play"; } }
    slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
    play.addEventListener("click", function () {
      if (timer) { stop(); return; }
      if (Number(slider.value) >= steps.length - 1) slider.value = "0";
      play.textContent = "❚❚ Pause";
      show(Number(slider.value));
      timer = setInterval(function () {
        var i = Number(slider.value) + 1;
        if (i >= steps.length) { stop(); return; }
        slider.value = String(i);
        show(i);
      }, 600);
    });
    window.addEventListener("resize", function () { placeCursor(Number(slider.value)); });
    if (img && !img.complete) img.addEventListener("load", function () { placeCursor(Number(slider.value)); });
    slider.value = String(steps.length - 1);
    show(steps.length - 1);
  }
  document.querySelectorAll(".timeline[data-src]").forEach(setup);
})();

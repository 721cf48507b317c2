// The report's only script: sortable tables and the sample list. Reads data embedded in the page.
"use strict";
(function () {
  const fmt = (x, d = 3) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  // Click a header to sort a table by that column; numbers sort as numbers, "–" last.
  function makeSortable(table) {
    table.querySelectorAll("th").forEach((th, col) => {
      th.addEventListener("click", () => {
        const dir = th.dataset.dir === "desc" ? "asc" : "desc";
        table.querySelectorAll("th").forEach((h) => delete h.dataset.dir);
        th.dataset.dir = dir;
        const body = table.tBodies[0];
        const key = (tr) => {
          const text = tr.cells[col].textContent.trim();
          const n = parseFloat(text.replace(/[,$\[]/g, ""));
          return Number.isNaN(n) ? text.toLowerCase() : n;
        };
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = key(a), y = key(b);
          if (typeof x !== typeof y) return typeof x === "number" ? -1 : 1;
          const c = x < y ? -1 : x > y ? 1 : 0;
          return dir === "asc" ? c : -c;
        });
        rows.forEach((r) => body.appendChild(r));
      });
    });
  }
  document.querySelectorAll("table.sortable").forEach(makeSortable);

  // Unpacks the gzip+base64 sample data in the browser; no request is made.
  async function readData() {
    const raw = atob(document.getElementById("sample-data").textContent.trim());
    const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  // An element whose text is set as text: judge quotes and responses are hostile data.
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // A criterion's quotes, each marked found in the response or not; "no evidence" for a met
  // without any; and the judge's own label when --evidence strict overrode it.
  function fillEvidence(td, [quotes, judged, support]) {
    if (judged) td.append(el("div", "downgraded", `downgraded: the judge said ${judged}, without a verified quote (--evidence strict)`));
    if (quotes === null) return;
    quotes.forEach(([text, found]) => {
      const quote = el("div", "quote " + (found ? "verified" : "unverified"));
      quote.append(el("span", "quote-state", found ? "verified" : "unverified"), " ", el("q", null, text));
      td.append(quote);
    });
    if (support === "missing") td.append(el("span", "no-evidence", "no evidence"));
  }

  // The response as text, verified quotes marked where they appear verbatim (case and
  // whitespace aside). A quote found only by the fuzzy match stays unmarked: its place in
  // the response is not known here, and a guessed mark would claim more than was checked.
  function fillResponse(pre, text, quotes) {
    const ranges = [];
    quotes.forEach((quote) => quote.split(/\.\.\.+|…/).forEach((part) => {
      const words = part.replace(/^[\s"'“”‘’]+|[\s"'“”‘’]+$/g, "").split(/\s+/).filter(Boolean);
      if (words.join(" ").length < 3) return;
      const pattern = new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("\\s+"), "gi");
      for (const m of text.matchAll(pattern)) ranges.push([m.index, m.index + m[0].length]);
    }));
    ranges.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [start, end] of ranges) {
      if (end <= at) continue;
      const from = Math.max(start, at);
      if (from > at) pre.append(text.slice(at, from));
      pre.append(el("mark", "evidence-mark", text.slice(from, end)));
      at = end;
    }
    pre.append(text.slice(at));
  }

  // A criterion "failed" when a positive one was not met or a pitfall was; those come first.
  function failed(v) {
    const label = v[2], points = v[1];
    if (label === "error" || label === "cannot_assess") return 1;
    const met = label === "met" || label === "partial";
    return (points >= 0 ? !met : met) ? 0 : 2;
  }

  function render(data) {
    const app = document.getElementById("samples-app");
    const samples = data.samples;
    const axes = Array.from(new Set(samples.flatMap((s) => Object.keys(s.axes)))).sort();
    app.innerHTML = `<div class="controls">
      <label>search <input id="q" type="search" placeholder="id, tag, criterion, explanation"></label>
      <label>score from <input id="min" type="number" step="0.05"></label>
      <label>to <input id="max" type="number" step="0.05"></label>
      <label>axis <select id="axis"><option value="">(any)</option>${axes.map((a) => `<option>${esc(a)}</option>`).join("")}</select></label>
      <label><input id="gate" type="checkbox"> failed gate</label>
      <label><input id="ungradable" type="checkbox"> ungradable</label>
      ${data.evidence ? '<label title="a met verdict without a quote found in the response"><input id="unverified" type="checkbox"> unverified evidence</label>' : ""}
      <label>sort <select id="sort">
        <option value="score-asc">score ↑</option><option value="score-desc">score ↓</option>
        <option value="axis-asc">axis score ↑</option><option value="axis-desc">axis score ↓</option>
        <option value="errors-desc">errors ↓</option><option value="id-asc">id</option></select></label>
      <span id="shown"></span></div>
      <table id="sample-rows"><thead><tr><th>sample</th><th class="num">score</th><th class="num">axis</th>
      <th class="num">met / criteria</th><th class="num">errors</th><th>gate failed</th><th>tags</th></tr></thead><tbody></tbody></table>
      <div id="detail" hidden></div>`;
    const $ = (id) => document.getElementById(id);
    samples.forEach((s, i) => {
      s.i = i;
      s.errors = s.v.filter((v) => v[2] === "error" || v[2] === "cannot_assess").length;
      s.met = s.v.filter((v) => v[2] === "met").length;
      const quotes = s.e ? s.e.flatMap((e) => (e[0] || []).map((q) => q[0])) : [];
      s.haystack = [s.id, ...s.tags, ...s.v.map((v) => data.texts[v[0]] + " " + (v[5] || "")), ...quotes].join("\n").toLowerCase();
      s.unverified = !!s.e && s.e.some((e) => e[2] === "unverified" || e[2] === "missing");
    });
    const LIMIT = 1000;
    function update() {
      const q = $("q").value.trim().toLowerCase();
      const lo = $("min").value === "" ? -Infinity : Number($("min").value);
      const hi = $("max").value === "" ? Infinity : Number($("max").value);
      const axis = $("axis").value;
      const [by, dir] = $("sort").value.split("-");
      const val = (s) => (axis ? s.axes[axis] : null);
      let list = samples.filter((s) =>
        (!q || s.haystack.includes(q)) &&
        (s.score === null ? lo === -Infinity && hi === Infinity : s.score >= lo && s.score <= hi) &&
        (!axis || (axis in s.axes && s.axes[axis] !== null)) &&
        (!$("gate").checked || s.gates.length > 0) &&
        (!$("ungradable").checked || s.score === null) &&
        (!data.evidence || !$("unverified").checked || s.unverified));
      const key = { score: (s) => s.score, axis: (s) => val(s) ?? s.score, errors: (s) => s.errors, id: (s) => s.id }[by];
      list.sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        const c = x < y ? -1 : x > y ? 1 : 0;
        return dir === "asc" ? c : -c;
      });
      $("shown").textContent = `${list.length} of ${samples.length} samples` + (list.length > LIMIT ? ` (first ${LIMIT} listed)` : "");
      $("sample-rows").tBodies[0].innerHTML = list.slice(0, LIMIT).map((s) =>
        `<tr data-i="${s.i}" data-id="${esc(s.id)}"><td>${esc(s.id)}</td><td class="num">${fmt(s.score)}</td>` +
        `<td class="num">${fmt(val(s))}</td><td class="num">${s.met} / ${s.v.length}</td><td class="num">${s.errors}</td>` +
        `<td>${esc(s.gates.join(", "))}</td><td>${esc(s.tags.join(" "))}</td></tr>`).join("");
    }
    function open(i) {
      const s = samples[i];
      document.querySelectorAll("#sample-rows tr.open").forEach((r) => r.classList.remove("open"));
      const row = document.querySelector(`#sample-rows tr[data-i="${i}"]`);
      if (row) row.classList.add("open");
      const criteria = s.v.map((v, k) => [v, k]).sort((a, b) => failed(a[0]) - failed(b[0]) || a[1] - b[1]);
      const conversation = s.messages
        ? s.messages.map((m) => `<p><b>${esc(m.role)}</b></p><pre>${esc(m.content)}</pre>`).join("")
        : "<p class='note'>The conversation is not stored in this run's results.</p>";
      const response = s.response !== null ? '<pre id="response-text"></pre>' : "<p class='note'>The response is not stored in this run's results.</p>";
      // The judge's raw replies, when the run kept them: collapsed, shown as escaped text.
      const replies = s.r || null;
      const replyText = (pos) => {
        if (pos === null || pos === undefined) return "<span class='note'>no reply recorded</span>";
        const [text, reasks, missing] = replies[pos];
        const note = reasks ? ` (after ${reasks} re-ask${reasks > 1 ? "s" : ""})` : "";
        if (text === null) return `<span class='note'>reply not available: ${esc(missing || "unknown")}</span>`;
        return `<details class="raw-reply"><summary>reply${note}</summary><pre>${esc(text)}</pre></details>`;
      };
      const replyCell = (v) => !replies ? "" : "<td>" + (v[9]
        ? v[9].map(([judge, verdict, pos]) => `<div><b>${esc(judge)}</b> ${esc(verdict)} ${replyText(pos)}</div>`).join("")
        : replyText(v[8])) + "</td>";
      const d = $("detail");
      d.hidden = false;
      d.innerHTML = `<h3>${esc(s.id)}: score ${fmt(s.score)}</h3>` +
        `<p>axes: ${Object.entries(s.axes).map(([a, x]) => `${esc(a)} ${fmt(x)}`).join(", ") || "–"}` +
        (s.gates.length ? ` · <b>gate failed</b>: ${esc(s.gates.join(", "))}` : "") + `</p>` +
        `<h4>Conversation</h4>${conversation}<h4>Response</h4>${response}<h4>Criteria (failed first)</h4>` +
        `<table id="criteria-detail"><thead><tr><th>criterion</th><th class="num">points</th><th>verdict</th>` +
        `<th class="num">P(met)</th><th>tags</th><th>explanation</th>${data.evidence ? "<th>evidence</th>" : ""}${replies ? "<th>judge reply</th>" : ""}</tr></thead><tbody>` +
        criteria.map(([v, k]) => `<tr class="criterion-row${failed(v) === 0 ? " bad" : ""}">` +
          `<td>${v[1] < 0 ? '<span class="pitfall">pitfall</span> ' : ""}${v[6] ? '<span class="required">required</span> ' : ""}${esc(data.texts[v[0]])}</td>` +
          `<td class="num">${v[1]}</td><td class="${["v-bad", "v-unknown", "v-good"][failed(v)]}">${esc(v[2])}${v[4] !== null ? " (level " + v[4] + ")" : ""}` +
          `${s.e && s.e[k][1] ? ` <span class="downgraded">(judge: ${esc(s.e[k][1])})</span>` : ""}</td>` +
          `<td class="num">${fmt(v[3], 2)}</td><td>${esc(data.texts[v[7]])}</td><td>${esc(v[5] || "")}</td>` +
          `${data.evidence ? `<td class="evidence" data-k="${k}"></td>` : ""}${replyCell(v)}</tr>`).join("") +
        `</tbody></table>`;
      if (s.response !== null) {
        const verified = s.e ? s.e.flatMap((e) => (e[0] || []).filter((q) => q[1]).map((q) => q[0])) : [];
        fillResponse($("response-text"), s.response, verified);
      }
      if (s.e) d.querySelectorAll("td.evidence").forEach((td) => fillEvidence(td, s.e[Number(td.dataset.k)]));
    }
    ["q", "min", "max"].forEach((id) => $(id).addEventListener("input", update));
    ["axis", "gate", "ungradable", "sort", ...(data.evidence ? ["unverified"] : [])].forEach((id) => $(id).addEventListener("change", update));
    $("sample-rows").tBodies[0].addEventListener("click", (e) => {
      const tr = e.target.closest("tr");
      if (tr) open(Number(tr.dataset.i));
    });
    update();
    document.body.dataset.ready = "1";
  }
  readData().then(render, (error) => {
    document.getElementById("samples-app").textContent = "Could not read the embedded sample data: " + error;
  });
})();

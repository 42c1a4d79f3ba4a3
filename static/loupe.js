// loupe: "/" focuses the search box (unless typing somewhere already).
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLElement &&
      (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
  const box = document.querySelector('form.search input[name="id"]');
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});

// The trace waterfall: a fold button hides (and shows again) every row below
// its span, keeping folded subtrees folded. Rows carry their depth.
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button.fold") : null;
  if (!button) return;
  // Inside <summary>: folding must not also open the span's details.
  event.preventDefault();
  event.stopPropagation();
  const row = button.closest("[data-depth]");
  if (!row) return;
  const depth = Number(row.dataset.depth);
  const folding = button.getAttribute("aria-expanded") === "true";
  button.setAttribute("aria-expanded", folding ? "false" : "true");
  button.textContent = folding ? "▸" : "▾";
  let skipBelow = Infinity;
  for (let next = row.nextElementSibling; next && next.dataset.depth !== undefined; next = next.nextElementSibling) {
    const nextDepth = Number(next.dataset.depth);
    if (nextDepth <= depth) break;
    if (folding) {
      next.hidden = true;
      continue;
    }
    if (nextDepth > skipBelow) continue;
    skipBelow = Infinity;
    next.hidden = false;
    const inner = next.querySelector(":scope > summary button.fold");
    if (inner && inner.getAttribute("aria-expanded") === "false") skipBelow = nextDepth;
  }
});

// Times. Pages write them in UTC, in <time datetime> elements (and SVG
// <text data-datetime>); here they are shown in the browser's zone, the UTC
// text on hover, unless the reader chose UTC (remembered in localStorage).
// Date-time inputs marked data-utc hold UTC values: they are shown in the
// same zone and sent back as UTC.
const ZONE_KEY = "loupe.zone";
function utcChosen() {
  try { return localStorage.getItem(ZONE_KEY) === "utc"; } catch { return false; }
}
const two = (n) => String(n).padStart(2, "0");
function zoneLabel() {
  const offset = -new Date().getTimezoneOffset();
  if (offset === 0) return "UTC";
  const sign = offset > 0 ? "+" : "-";
  return `UTC${sign}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
}
// The local time of `date` in the shape the server wrote `utcText` in.
function localText(date, utcText) {
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const clock = `${two(date.getHours())}:${two(date.getMinutes())}`;
  const seconds = two(date.getSeconds());
  const millis = String(date.getMilliseconds()).padStart(3, "0");
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(utcText)) return `${day} ${clock}:${seconds}.${millis}`;
  if (/^\d\d:\d\d:\d\d$/.test(utcText)) return `${clock}:${seconds}`;
  if (/^\d\d:\d\d$/.test(utcText)) return clock;
  if (/^\d\d-\d\d$/.test(utcText)) return day.slice(5);
  return utcText;
}
// A date-time input's value (local) from a UTC one, and back.
const INPUT_VALUE = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$/;
function inputFromUtc(value) {
  if (!INPUT_VALUE.test(value)) return value;
  const date = new Date(value + "Z");
  if (Number.isNaN(date.getTime())) return value;
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  const text = local.toISOString().slice(0, 23);
  return text.endsWith(".000") ? text.slice(0, 19) : text;
}
function utcFromInput(value) {
  if (!INPUT_VALUE.test(value)) return value;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
}
function showTimes(root) {
  if (utcChosen()) return;
  for (const el of root.querySelectorAll("time[datetime], text[data-datetime]")) {
    if (el.dataset.utc !== undefined) continue;
    const iso = el.getAttribute("datetime") || el.dataset.datetime;
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) continue;
    el.dataset.utc = el.textContent;
    el.textContent = localText(date, el.textContent);
    if (el.tagName.toLowerCase() === "time") el.title = `${iso.replace("T", " ").replace("Z", "")} UTC`;
  }
  for (const el of root.querySelectorAll(".tz")) el.textContent = zoneLabel();
  for (const input of root.querySelectorAll('input[type="datetime-local"][data-utc]')) {
    if (input.dataset.shown) continue;
    input.dataset.shown = "1";
    input.value = inputFromUtc(input.value);
  }
}
function sendUtc(form, set) {
  if (utcChosen() || !(form instanceof HTMLFormElement)) return;
  for (const input of form.querySelectorAll('input[type="datetime-local"][data-utc]')) {
    if (input.name && input.value) set(input.name, utcFromInput(input.value));
  }
}
document.addEventListener("formdata", (event) => sendUtc(event.target, (n, v) => event.formData.set(n, v)), true);
document.addEventListener("htmx:configRequest", (event) => {
  const params = event.detail.parameters;
  sendUtc(event.detail.elt.closest ? event.detail.elt.closest("form") : null, (n, v) => {
    if (params instanceof FormData) params.set(n, v); else params[n] = v;
  });
});
document.addEventListener("htmx:load", (event) => showTimes(event.detail.elt));
document.addEventListener("DOMContentLoaded", () => {
  showTimes(document);
  const toggle = document.querySelector("button.tz-toggle");
  if (!toggle) return;
  toggle.hidden = false;
  toggle.setAttribute("aria-pressed", utcChosen() ? "true" : "false");
  toggle.addEventListener("click", () => {
    try {
      if (utcChosen()) localStorage.removeItem(ZONE_KEY); else localStorage.setItem(ZONE_KEY, "utc");
    } catch { return; }
    location.reload();
  });
});

// A drag across an SVG's plot (between x0 and x1 in viewBox units) draws
// a band and, on release after some movement, calls done(from, to) with
// the two ends in viewBox units, the smaller first.
function dragAcross(event, svg, x0, x1, done) {
  const box = svg.viewBox.baseVal;
  const at = (e) => {
    const rect = svg.getBoundingClientRect();
    const x = box.x + (e.clientX - rect.left) * box.width / rect.width;
    return Math.min(x1, Math.max(x0, x));
  };
  const start = at(event);
  const band = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  band.setAttribute("class", "zoom-band");
  band.setAttribute("y", String(box.y));
  band.setAttribute("height", String(box.height));
  band.setAttribute("x", String(start));
  band.setAttribute("width", "0");
  svg.appendChild(band);
  event.preventDefault();
  const move = (e) => {
    const x = at(e);
    band.setAttribute("x", String(Math.min(start, x)));
    band.setAttribute("width", String(Math.abs(x - start)));
  };
  const up = (e) => {
    document.removeEventListener("pointermove", move);
    document.removeEventListener("pointerup", up);
    band.remove();
    const end = at(e);
    if (Math.abs(end - start) >= 3) done(Math.min(start, end), Math.max(start, end));
  };
  document.addEventListener("pointermove", move);
  document.addEventListener("pointerup", up);
}

// Zoom: drag across a chart drawn over time (svg[data-from][data-to], in
// Unix milliseconds, its plot between data-x0 and data-x1 in viewBox units)
// to open the same page over the range selected.
document.addEventListener("pointerdown", (event) => {
  const svg = event.target instanceof Element ? event.target.closest("svg[data-from][data-to]") : null;
  if (!svg || event.button !== 0) return;
  const x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
  const from = Number(svg.dataset.from), to = Number(svg.dataset.to);
  dragAcross(event, svg, x0, x1, (low, high) => {
    const time = (x) => new Date(from + (x - x0) / (x1 - x0) * (to - from)).toISOString();
    const url = new URL(location.href);
    for (const name of ["window", "since", "until", "start", "end", "from", "to", "offset"]) url.searchParams.delete(name);
    url.searchParams.set("from", time(low));
    url.searchParams.set("to", time(high));
    location.assign(url.toString());
  });
});

// Select: drag across a histogram (svg[data-edges]: its bins' edges, equal
// in width between data-x0 and data-x1, and in value by ratio when
// data-log is set) to open the same page with the range of values as the
// two parameters data-select names.
document.addEventListener("pointerdown", (event) => {
  const svg = event.target instanceof Element ? event.target.closest("svg[data-edges][data-select]") : null;
  if (!svg || event.button !== 0) return;
  const x0 = Number(svg.dataset.x0), x1 = Number(svg.dataset.x1);
  const edges = svg.dataset.edges.split(",").map(Number);
  const [lowName, highName] = svg.dataset.select.split(",");
  const log = svg.dataset.log !== undefined;
  const value = (x) => {
    const f = (x - x0) / (x1 - x0) * (edges.length - 1);
    const i = Math.min(edges.length - 2, Math.floor(f));
    const a = edges[i], b = edges[i + 1], t = f - i;
    return log && a > 0 ? a * Math.pow(b / a, t) : a + (b - a) * t;
  };
  dragAcross(event, svg, x0, x1, (low, high) => {
    const url = new URL(location.href);
    url.searchParams.set(lowName, String(Math.floor(value(low))));
    url.searchParams.set(highName, String(Math.ceil(value(high))));
    location.assign(url.toString());
  });
});

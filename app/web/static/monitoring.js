// The monitoring page: live performance per model version from GET /api/v1/performance, over the
// chosen window (the table and heat maps) and per time bucket of it (the chart), drawn as SVG.
"use strict";

const root = document.getElementById("monitoring");
const windowSelect = document.getElementById("window");
const errorBox = document.getElementById("error");
const SVG = "http://www.w3.org/2000/svg";
const BUCKETS = { 3600: 12, 21600: 12, 86400: 24, 604800: 28, 2592000: 30 };
const COLOURS = ["#1f6feb", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e"];
const CHART = { width: 720, height: 280, left: 48, right: 16, top: 12, bottom: 36 };

const percent = (share, digits = 1) => (share === null ? "–" : (share * 100).toFixed(digits) + "%");

function element(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

async function performance(since, until) {
  const query = new URLSearchParams({ since: since.toISOString(), until: until.toISOString() });
  const response = await fetch(`${root.dataset.performance}?${query}`);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(body?.detail?.[0]?.msg ?? `the performance route answered ${response.status}`);
  }
  return body.versions;
}

function colourOf(versions) {
  const colours = new Map();
  versions.forEach((version, index) => colours.set(version, COLOURS[index % COLOURS.length]));
  return colours;
}

function showVersions(versions) {
  const rows = versions.map((version) => {
    const row = document.createElement("tr");
    row.dataset.version = version.model_version;
    const share = version.labelled / version.predictions;
    const cells = {
      version: version.model_version,
      predictions: String(version.predictions),
      labelled: String(version.labelled),
      share: percent(share),
      accuracy: percent(version.accuracy, 2),
      estimated: percent(version.estimated_accuracy, 2),
      brier: version.brier === null ? "–" : version.brier.toFixed(4),
    };
    for (const [name, text] of Object.entries(cells)) {
      const cell = document.createElement(name === "version" ? "th" : "td");
      if (name === "version") cell.scope = "row";
      cell.className = name;
      if (name === "share") {
        const bar = document.createElement("span");
        bar.className = "bar";
        const fill = document.createElement("span");
        fill.className = "fill";
        fill.style.width = percent(share);
        bar.append(fill);
        const value = document.createElement("span");
        value.className = "value";
        value.textContent = text;
        cell.append(bar, value);
      } else {
        cell.textContent = text;
      }
      row.append(cell);
    }
    return row;
  });
  document.querySelector("#versions tbody").replaceChildren(...rows);
  document.getElementById("no-predictions").hidden = versions.length > 0;
}

function timeLabel(date, seconds) {
  const iso = new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString();
  return seconds <= 86400 ? iso.slice(11, 16) : iso.slice(5, 10);
}

// One path per version through the buckets that have a value; a bucket without one breaks it.
function pathThrough(points) {
  let path = "";
  let previous = null;
  for (const point of points) {
    path += (previous !== null && point.index === previous + 1 ? " L" : " M") + `${point.x},${point.y}`;
    previous = point.index;
  }
  return path.trim();
}

function showChart(edges, buckets, colours, seconds) {
  const chart = document.getElementById("accuracy-chart");
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const step = plotWidth / buckets.length;
  const x = (index) => (CHART.left + step * (index + 0.5)).toFixed(1);
  const y = (share) => (CHART.top + plotHeight * (1 - share)).toFixed(1);
  const nodes = [];
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    nodes.push(element("line", { class: "grid", x1: CHART.left, x2: CHART.width - CHART.right, y1: y(share), y2: y(share) }));
    nodes.push(element("text", { x: CHART.left - 6, y: Number(y(share)) + 4, "text-anchor": "end" }, percent(share, 0)));
  }
  const every = Math.ceil(buckets.length / 6);
  for (let index = 0; index < buckets.length; index += every) {
    nodes.push(element("text", { x: x(index), y: CHART.height - 12, "text-anchor": "middle" }, timeLabel(edges[index], seconds)));
  }
  for (const [version, colour] of colours) {
    const live = [];
    const estimated = [];
    buckets.forEach((figures, index) => {
      const found = figures.find((candidate) => candidate.model_version === version);
      if (found === undefined) return;
      estimated.push({ index, x: x(index), y: y(found.estimated_accuracy), found });
      if (found.accuracy !== null) live.push({ index, x: x(index), y: y(found.accuracy), found });
    });
    nodes.push(element("path", { class: "estimated", stroke: colour, d: pathThrough(estimated), "data-version": version }));
    nodes.push(element("path", { class: "live", stroke: colour, d: pathThrough(live), "data-version": version }));
    for (const point of estimated) {
      nodes.push(element("circle", { class: "estimate", cx: point.x, cy: point.y, r: 3, stroke: colour, "data-version": version }));
    }
    for (const point of live) {
      const { found, index } = point;
      const circle = element("circle", {
        class: "point",
        cx: point.x,
        cy: point.y,
        r: 4,
        fill: colour,
        "data-version": version,
        "data-since": edges[index].toISOString(),
        "data-until": edges[index + 1].toISOString(),
        "data-accuracy": String(found.accuracy),
        "data-labelled": String(found.labelled),
      });
      const span = `${timeLabel(edges[index], seconds)}–${timeLabel(edges[index + 1], seconds)}`;
      circle.append(element("title", {}, `${version}, ${span}: ${percent(found.accuracy)} right on ${found.labelled} labels, ` +
        `${percent(found.estimated_accuracy)} estimated over ${found.predictions} predictions`));
      nodes.push(circle);
    }
  }
  chart.replaceChildren(...nodes);
  const legend = [...colours].flatMap(([version, colour]) => [
    legendItem(colour, false, `${version} live`),
    legendItem(colour, true, `${version} estimated`),
  ]);
  document.getElementById("chart-legend").replaceChildren(...legend);
}

function legendItem(colour, dashed, text) {
  const item = document.createElement("span");
  const swatch = document.createElement("span");
  swatch.className = dashed ? "swatch dashed" : "swatch";
  swatch.style.borderColor = colour;
  item.append(swatch, text);
  return item;
}

function heatmap(version) {
  const labels = version.labels;
  const size = 56;
  const left = 64;
  const top = 40;
  const side = left + size * labels.length + 8;
  const svg = element("svg", {
    class: "heatmap",
    role: "group",
    viewBox: `0 0 ${side} ${top + size * labels.length + 8}`,
    "aria-label": `Confusion matrix of ${version.model_version}`,
    "data-version": version.model_version,
  });
  svg.append(element("text", { x: left + (size * labels.length) / 2, y: 12, "text-anchor": "middle" }, "predicted"));
  const largest = Math.max(1, ...version.confusion_matrix.flat());
  labels.forEach((label, column) => {
    svg.append(element("text", { x: left + size * (column + 0.5), y: top - 8, "text-anchor": "middle" }, label));
  });
  version.confusion_matrix.forEach((counts, row) => {
    svg.append(element("text", { x: left - 8, y: top + size * (row + 0.5) + 4, "text-anchor": "end" }, labels[row]));
    counts.forEach((count, column) => {
      const strength = count === 0 ? 0 : 0.12 + 0.88 * (count / largest);
      const cell = element("g", {
        class: row === column ? "cell right" : "cell",
        role: "img",
        "aria-label": `true ${labels[row]}, predicted ${labels[column]}: ${count}`,
        "data-label": labels[row],
        "data-predicted": labels[column],
        "data-count": String(count),
      });
      cell.append(
        element("rect", {
          x: left + size * column + 1,
          y: top + size * row + 1,
          width: size - 2,
          height: size - 2,
          fill: `rgba(31, 111, 235, ${strength.toFixed(3)})`,
        }),
        element(
          "text",
          { x: left + size * (column + 0.5), y: top + size * (row + 0.5) + 4, "text-anchor": "middle", class: strength > 0.55 ? "light" : "" },
          String(count),
        ),
      );
      svg.append(cell);
    });
  });
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  caption.textContent = `${version.model_version}: ${version.labelled} labelled predictions (rows: true class)`;
  figure.append(svg, caption);
  return figure;
}

function showHeatmaps(versions) {
  document.getElementById("heatmaps").replaceChildren(...versions.filter((version) => version.labelled > 0).map(heatmap));
}

async function load() {
  root.dataset.loaded = "false";
  const seconds = Number(windowSelect.value);
  const count = BUCKETS[seconds];
  // Whole seconds, one past now: every prediction answered before the page asked is in the window.
  const until = new Date((Math.floor(Date.now() / 1000) + 1) * 1000);
  const since = new Date(until.getTime() - seconds * 1000);
  const edges = Array.from({ length: count + 1 }, (_, index) => new Date(since.getTime() + (index * seconds * 1000) / count));
  try {
    const [whole, ...buckets] = await Promise.all([
      performance(since, until),
      ...edges.slice(0, -1).map((start, index) => performance(start, edges[index + 1])),
    ]);
    errorBox.hidden = true;
    root.dataset.since = since.toISOString();
    root.dataset.until = until.toISOString();
    document.getElementById("range").textContent = `From ${since.toLocaleString()} to ${until.toLocaleString()}.`;
    const colours = colourOf(whole.map((version) => version.model_version));
    showVersions(whole);
    showChart(edges, buckets, colours, seconds);
    showHeatmaps(whole);
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  }
  root.dataset.loaded = "true";
}

windowSelect.addEventListener("change", load);
load();

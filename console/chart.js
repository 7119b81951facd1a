// Small SVG charts drawn here (no library): bars or lines over labelled periods. Every
// mark carries its value in data-value and a <title>, so what is drawn can be read back.
import { h, s } from "./dom.js";

const W = 640, H = 220, PAD = { l: 56, r: 12, t: 14, b: 30 };

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function shortNum(v) {
  const a = Math.abs(v);
  if (a >= 1e9) return +(v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return +(v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return +(v / 1e3).toFixed(1) + "k";
  if (a > 0 && a < 0.01) return v.toExponential(0);
  return String(+v.toFixed(2));
}

/**
 * A chart. `series`: [{name, values: [number], kind: "bar"|"line", color: 1..6, format}],
 * `labels`: one per period. Answers a <figure>.
 */
export function chart({ title, labels, series, yFormat = shortNum, id }) {
  const innerW = W - PAD.l - PAD.r, innerH = H - PAD.t - PAD.b;
  const max = niceMax(Math.max(0, ...series.flatMap((x) => x.values.filter((v) => Number.isFinite(v)))));
  const n = Math.max(1, labels.length);
  const step = innerW / n;
  const x = (i) => PAD.l + step * i + step / 2;
  const y = (v) => PAD.t + innerH - (Math.max(0, v) / max) * innerH;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });

  // grid and y axis
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4, yy = y(v);
    svg.append(s("line", { x1: PAD.l, x2: W - PAD.r, y1: yy, y2: yy, class: k === 0 ? "axis" : "grid" }));
    svg.append(s("text", { x: PAD.l - 6, y: yy + 4, class: "tick", "text-anchor": "end" }, yFormat(v)));
  }
  // x labels: at most ~10
  const every = Math.ceil(n / 10);
  labels.forEach((l, i) => {
    if (i % every === 0) svg.append(s("text", { x: x(i), y: H - 10, class: "tick", "text-anchor": "middle" }, l));
  });

  const bars = series.filter((x) => x.kind !== "line");
  const barW = Math.max(1, (step * 0.72) / Math.max(1, bars.length));
  bars.forEach((ser, j) => {
    const g = s("g", { class: `series c${ser.color || j + 1}`, dataset: { series: ser.name } });
    ser.values.forEach((v, i) => {
      const val = Number.isFinite(v) ? v : 0;
      const top = y(val);
      const bx = x(i) - (barW * bars.length) / 2 + j * barW;
      g.append(s("rect", { x: bx.toFixed(2), y: top.toFixed(2), width: Math.max(1, barW - 1).toFixed(2), height: Math.max(0, PAD.t + innerH - top).toFixed(2),
        class: "bar", dataset: { value: String(v), label: labels[i] } },
      s("title", {}, `${labels[i]} · ${ser.name}: ${(ser.format || shortNum)(val)}`)));
    });
    svg.append(g);
  });
  series.filter((x) => x.kind === "line").forEach((ser, j) => {
    const g = s("g", { class: `series c${ser.color || j + 1}`, dataset: { series: ser.name } });
    const pts = ser.values.map((v, i) => (Number.isFinite(v) ? `${x(i).toFixed(2)},${y(v).toFixed(2)}` : null)).filter(Boolean);
    if (pts.length > 1) g.append(s("polyline", { points: pts.join(" "), class: "line" }));
    ser.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      g.append(s("circle", { cx: x(i).toFixed(2), cy: y(v).toFixed(2), r: 3, class: "dot", dataset: { value: String(v), label: labels[i] } },
        s("title", {}, `${labels[i]} · ${ser.name}: ${(ser.format || shortNum)(v)}`)));
    });
    svg.append(g);
  });

  const legend = h("div", { class: "legend" }, series.map((ser, j) =>
    h("span", { class: `key c${ser.color || j + 1}` }, h("i", { class: ser.kind === "line" ? "swatch line" : "swatch" }), ser.name)));
  return h("figure", { class: "chart-box", "data-chart": id || title }, h("figcaption", title), legend, svg);
}

/** A horizontal split bar (alias traffic): parts [{label, weight}] with weights summing to 1. */
export function splitBar(parts) {
  return h("div", { class: "split" }, parts.map((p, i) => {
    const pct = Math.round(p.weight * 1000) / 10;
    return h("div", { class: `split-part c${(i % 6) + 1}`, style: { width: `${Math.max(0, p.weight * 100)}%` }, title: `${p.label}: ${pct}%`, dataset: { weight: String(p.weight) } },
      h("span", `${p.label} · ${pct}%`));
  }));
}

/** A small meter: used / total. */
export function meter(used, total) {
  const f = total > 0 ? Math.min(1, used / total) : 0;
  return h("span", { class: "meter", title: `${used} of ${total}` }, h("span", { class: "meter-fill", style: { width: `${f * 100}%` } }));
}

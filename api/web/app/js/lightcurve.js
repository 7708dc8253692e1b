// The light-curve plot (uPlot, vendored from npm): count rates per band against time on a
// log scale, the image boxes drawn as shaded spans, and a drag on the plot choosing a time
// window (reported through `onSelect(fromIso, toIso)`).

// uPlot is imported without blocking the pages that import this module: its parsing overlaps
// the page's first GraphQL requests instead of delaying them.
const uPlotModule = import('../vendor/uplot/uPlot.esm.js');

const BAND_COLOURS = ['#d9480f', '#1971c2', '#2f9e44', '#9c36b5'];

function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

/** The GraphQL selection of a light curve, as the plot needs it. */
export const LIGHT_CURVE_FIELDS = 'timeStart timeEnd bands { lowKev highKev countRates correctedRates }';

/**
 * Draws `lc` (ScienceFile.lightCurve) into `container`.
 * options: {boxes: [{from, to, label}], onSelect(fromIso, toIso), window: {from, to}, height}
 * Resolves to {plot, setWindow(from, to)}.
 */
export async function lightCurvePlot(container, lc, options = {}) {
  const uPlot = (await uPlotModule).default;
  const t0 = lc.timeStart.map((t) => new Date(t).getTime() / 1000);
  const t1 = lc.timeEnd.map((t) => new Date(t).getTime() / 1000);
  const x = t0.map((a, i) => (a + t1[i]) / 2);
  const series = lc.bands.map((b) => b.correctedRates.map((v) => (v > 0 ? v : null)));
  const fg = cssVar('--fg') || '#000';
  const grid = cssVar('--line') || '#ccc';
  const boxLine = cssVar('--box-line') || '#c25a00';
  const boxFill = cssVar('--box') || 'rgba(227,107,0,0.18)';
  const boxes = options.boxes || [];
  const width = Math.max(320, Math.min(container.clientWidth || 900, 1300));
  const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
  const opts = {
    width,
    height: options.height || 300,
    title: options.title,
    scales: { x: { time: true }, y: { distr: 3 } },
    axes: [
      { ...axis, label: 'UTC (at Solar Orbiter)' },
      { ...axis, label: 'counts / s (live-time corrected)', size: 70 },
    ],
    series: [
      { label: 'Time (UTC)', value: (u, v) => (v == null ? '–' : new Date(v * 1000).toISOString().slice(11, 19)) },
      ...lc.bands.map((b, i) => ({
        label: `${b.lowKev}–${b.highKev} keV`,
        stroke: BAND_COLOURS[i % BAND_COLOURS.length],
        width: 1.5,
        points: { show: false },
        paths: uPlot.paths.stepped({ align: 0 }),
        value: (u, v) => (v == null ? '–' : Math.round(v).toLocaleString('en-US')),
      })),
    ],
    cursor: { drag: { x: true, y: false, setScale: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    hooks: {
      drawClear: [(u) => {
        const { ctx } = u;
        const top = u.bbox.top;
        const h = u.bbox.height;
        ctx.save();
        ctx.fillStyle = boxFill;
        ctx.strokeStyle = boxLine;
        ctx.lineWidth = 1;
        for (const b of boxes) {
          const a = u.valToPos(new Date(b.from).getTime() / 1000, 'x', true);
          const z = u.valToPos(new Date(b.to).getTime() / 1000, 'x', true);
          ctx.fillRect(a, top, Math.max(1, z - a), h);
          ctx.strokeRect(a, top, Math.max(1, z - a), h);
        }
        ctx.restore();
      }],
      setSelect: [(u) => {
        if (!options.onSelect || u.select.width < 2) return;
        const a = u.posToVal(u.select.left, 'x');
        const z = u.posToVal(u.select.left + u.select.width, 'x');
        options.onSelect(new Date(a * 1000).toISOString(), new Date(z * 1000).toISOString());
      }],
    },
  };
  const plot = new uPlot(opts, [x, ...series], container);
  const setWindow = (from, to) => {
    if (!from || !to) { plot.setSelect({ left: 0, width: 0, top: 0, height: 0 }, false); return; }
    const a = plot.valToPos(new Date(from).getTime() / 1000, 'x');
    const z = plot.valToPos(new Date(to).getTime() / 1000, 'x');
    plot.setSelect({ left: a, width: Math.max(0, z - a), top: 0, height: plot.bbox.height / devicePixelRatio }, false);
  };
  if (options.window) setWindow(options.window.from, options.window.to);
  return { plot, setWindow };
}

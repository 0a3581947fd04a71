// Charts through uPlot (npm, embedded in stratad at build time). Without it
// (a build that did not find console/node_modules) each chart is replaced
// by a sentence saying so; the text summaries beside the charts remain.
let uPlotClass = null;
let loaded = false;

export async function loadCharts() {
  if (!loaded) {
    loaded = true;
    try {
      uPlotClass = (await import('./vendor/uPlot.esm.js')).default;
    } catch {
      uPlotClass = null;
    }
  }
  return uPlotClass !== null;
}

// A line chart into `el` (emptied first). `series`: [{label, values}],
// `xs`: seconds since the epoch.
export function lineChart(el, title, xs, series) {
  el.replaceChildren();
  if (!uPlotClass) {
    el.textContent = 'Charts are unavailable: this stratad was built without uPlot (run ./strata.sh deps and rebuild).';
    return null;
  }
  const dashes = [[], [6, 4], [2, 3]];
  const colors = ['#1f5fbf', '#b35900', '#2a7d2a'];
  const opts = {
    title, width: Math.min(720, el.clientWidth || 720), height: 220,
    series: [{}, ...series.map((s, i) => ({
      label: s.label, stroke: s.stroke || colors[i % 3], dash: s.dash || dashes[i % 3],
      width: s.width || 2, scale: s.scale || 'y',
    }))],
    axes: [{}, {scale: 'y'}, ...(series.some((s) => s.scale === 'pct') ? [{scale: 'pct', side: 1, grid: {show: false}}] : [])],
    scales: {pct: {range: [0, 100]}},
  };
  return new uPlotClass(opts, [xs, ...series.map((s) => s.values)], el);
}

// Trial page: per-layer latency and memory bars (per device), confusion matrix, training curve,
// and the .tflite priced on every profile (fetched after the page is shown).
(() => {
  const T = JSON.parse(document.getElementById('trial-data').textContent);
  const cfg = {responsive: true, displaylogo: false};

  function drawLayers(i) {
    const d = T.devices[i];
    if (!d || !d.layers.length) {
      for (const id of ['layer-latency', 'layer-memory'])
        Plotly.react(id, [], {annotations: [{text: 'no per-layer figures', showarrow: false, xref: 'paper', yref: 'paper', x: .5, y: .5}]});
      return;
    }
    const names = d.layers.map(l => `${l.index} ${l.op}`);
    const info = d.layers.map(l => `${l.shape} ${l.dtype}<br>${(l.macs || 0).toLocaleString()} MACs<br>${l.kernel || ''}`);
    Plotly.react('layer-latency', [{type: 'bar', orientation: 'h', y: names, x: d.layers.map(l => l.ms), text: info,
                                    textposition: 'none', hovertemplate: '%{y}: %{x:.3f} ms<br>%{text}<extra></extra>', marker: {color: '#1f77b4'}}],
                 {title: {text: `latency per layer on ${d.device} (${d.latency_source}, total ${d.latency_ms.toFixed(2)} ms)`},
                  margin: {l: 160, t: 40}, xaxis: {title: {text: 'ms'}}, yaxis: {autorange: 'reversed'}}, cfg);
    Plotly.react('layer-memory', [
      {type: 'bar', orientation: 'h', name: 'output activation', y: names, x: d.layers.map(l => l.activation_kb),
       hovertemplate: '%{y}: %{x:.2f} KB<extra>activation</extra>'},
      {type: 'bar', orientation: 'h', name: 'kernel scratch', y: names, x: d.layers.map(l => l.scratch_kb),
       hovertemplate: '%{y}: %{x:.2f} KB<extra>scratch</extra>'}],
                 {title: {text: `memory per layer (arena ${d.arena_kb.toFixed(1)} KB, RAM ${d.ram_kb.toFixed(1)} KB)`},
                  barmode: 'stack', margin: {l: 160, t: 40}, xaxis: {title: {text: 'KB'}}, yaxis: {autorange: 'reversed'},
                  legend: {orientation: 'h'}}, cfg);
  }

  function drawConfusion() {
    const c = T.confusion;
    if (!c.length) return Plotly.react('confusion', [], {annotations: [{text: 'not trained', showarrow: false, xref: 'paper', yref: 'paper', x: .5, y: .5}]});
    const names = c.map((_, i) => T.class_names[i] || String(i));
    Plotly.react('confusion', [{type: 'heatmap', z: c, x: names, y: names, colorscale: 'Blues', reversescale: true, texttemplate: '%{z}',
                                hovertemplate: 'true %{y}, predicted %{x}: %{z}<extra></extra>'}],
                 {margin: {t: 10, l: 90, b: 80}, xaxis: {title: {text: 'predicted'}}, yaxis: {title: {text: 'true'}, autorange: 'reversed'}}, cfg);
  }

  function drawCurve() {
    const h = T.history;
    if (!h.length) return Plotly.react('curve', [], {annotations: [{text: 'no training history', showarrow: false, xref: 'paper', yref: 'paper', x: .5, y: .5}]});
    const step = h.map((_, i) => i + 1);
    const label = h.map(e => (e.phase || 'train') + ' epoch ' + e.epoch);
    Plotly.react('curve', [
      {type: 'scatter', mode: 'lines+markers', name: 'loss', x: step, y: h.map(e => e.loss), text: label, hovertemplate: '%{text}: loss %{y:.4f}<extra></extra>'},
      {type: 'scatter', mode: 'lines+markers', name: 'val accuracy', x: step, y: h.map(e => e.val_accuracy), yaxis: 'y2', text: label,
       hovertemplate: '%{text}: accuracy %{y:.3f}<extra></extra>'}],
                 {margin: {t: 10}, xaxis: {title: {text: 'epoch (training, then fine-tuning)'}}, yaxis: {title: {text: 'loss'}},
                  yaxis2: {title: {text: 'accuracy'}, overlaying: 'y', side: 'right', range: [0, 1]}, legend: {orientation: 'h'}}, cfg);
  }

  async function allProfiles() {
    if (!T.has_tflite) return;
    const body = document.querySelector('#all-profiles tbody');
    try {
      const rows = await nas.get(`/api/trials/${T.id}/profiles`);
      // total, then "DSP x + net y" (frontend and network) when the figure includes a frontend
      const part = (r, k, d) => (r.split && r.split.frontend && r.split.frontend[k])
        ? `<br><span class="muted">DSP ${r.split.frontend[k].toFixed(d)} + net ${r.split.network[k].toFixed(d)}</span>` : '';
      body.innerHTML = rows.map(r => `<tr><td>${nas.esc(r.device)}</td><td>${r.deployable ? 'yes' : 'NO'}</td>
        <td class="num">${r.latency_ms.toFixed(2)} <span class="src">${r.latency_source}</span>${part(r, 'latency_ms', 2)}</td>
        <td class="num">${r.ram_kb.toFixed(1)} <span class="src">${r.ram_source}</span>${part(r, 'ram_kb', 1)}</td>
        <td class="num">${r.flash_kb.toFixed(1)}${part(r, 'flash_kb', 1)}</td>
        <td class="num">${r.energy ? r.energy.energy_uj.toFixed(1) : '-'}</td><td>${nas.esc(r.reason || '')}</td></tr>`).join('');
    } catch (e) { body.innerHTML = `<tr><td colspan="7">${nas.esc(e.message)}</td></tr>`; }
  }

  const sel = document.getElementById('layer-device');
  sel.addEventListener('change', () => drawLayers(+sel.value));
  drawLayers(0);
  drawConfusion();
  drawCurve();
  allProfiles();
})();

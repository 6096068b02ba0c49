// Study page: Pareto scatter (axes, device, colour, infeasible toggle, click -> trial),
// hypervolume over time, parallel coordinates, a server-paged trial table; polls while running.
(() => {
  const D = JSON.parse(document.getElementById('study-data').textContent);
  const name = D.study.name;
  const enc = encodeURIComponent(name);
  const $ = id => document.getElementById(id);
  const state = {pareto: D.pareto, study: D.study, history: D.history, trials: D.trials,
                 sort: 'number', order: 'asc', page: 1};
  const LABELS = {accuracy: 'accuracy (.tflite, valid)', test_accuracy: 'test accuracy', latency_ms: 'latency ms',
                  ram_kb: 'RAM KB', flash_kb: 'flash KB', params: 'parameters', macs: 'MACs', bits: 'bits',
                  prune_ratio: 'prune ratio', energy_uj: 'energy per inference µJ (estimated)',
                  power_mw: 'average power mW (estimated)'};
  const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

  function hover(p) {
    return `<b>trial ${p.number}</b> ${nas.esc(p.arch)}<br>` +
      `${p.bits}-bit, prune ${p.prune_ratio}<br>` +
      `accuracy ${nas.fmt(p.accuracy, 3)} (test ${nas.fmt(p.test_accuracy, 3)})<br>` +
      `latency ${nas.fmt(p.latency_ms, 2)} ms (${p.latency_source})<br>` +
      `RAM ${nas.fmt(p.ram_kb, 1)} KB (${p.ram_source})<br>` +
      `flash ${nas.fmt(p.flash_kb, 1)} KB<br>` +
      (p.energy_uj == null ? '' : `energy ${nas.fmt(p.energy_uj, 1)} µJ, ${nas.fmt(p.power_mw, 3)} mW at ` +
        `${p.inference_rate_hz} inference/s (estimated)<br>`) +
      `params ${nas.fmt(p.params)}, MACs ${nas.fmt(p.macs)}<br>on ${nas.esc(p.device)}` +
      (p.feasible ? '' : '<br><b>infeasible</b>');
  }

  function drawPareto() {
    const x = $('x-axis').value, y = $('y-axis').value, by = $('color-by').value;
    const pts = state.pareto.points;
    const type = pts.length > 2000 ? 'scattergl' : 'scatter';
    const groups = new Map();
    for (const p of pts) {
      const key = (p.feasible ? '' : 'infeasible ') + (by === 'bits' ? p.bits + '-bit' : p.family);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    const keys = [...groups.keys()].sort();
    const colorKeys = [...new Set(keys.map(k => k.replace('infeasible ', '')))];
    const traces = keys.map(k => {
      const g = groups.get(k), infeasible = k.startsWith('infeasible ');
      return {type, mode: 'markers', name: k, x: g.map(p => p[x]), y: g.map(p => p[y]),
              customdata: g.map(p => [p.trial_id]), text: g.map(hover), hovertemplate: '%{text}<extra></extra>',
              marker: {size: infeasible ? 8 : 11, symbol: infeasible ? 'x' : 'circle', opacity: infeasible ? 0.5 : 0.9,
                       color: PALETTE[colorKeys.indexOf(k.replace('infeasible ', '')) % PALETTE.length],
                       line: {width: infeasible ? 0 : 1, color: '#333'}}};
    });
    const layout = {margin: {t: 20, r: 10}, hovermode: 'closest', legend: {orientation: 'h'},
                    xaxis: {title: {text: LABELS[x] || x}}, yaxis: {title: {text: LABELS[y] || y}},
                    annotations: pts.length ? [] : [{text: 'no feasible trial yet', showarrow: false,
                                                     xref: 'paper', yref: 'paper', x: 0.5, y: 0.5}]};
    Plotly.react('pareto', traces, layout, {responsive: true, displaylogo: false});
    $('pareto').dataset.points = String(pts.length);
  }

  async function loadPareto() {
    const q = `device=${encodeURIComponent($('device').value)}&feasible_only=${!$('show-infeasible').checked}`;
    state.pareto = await nas.get(`/api/studies/${enc}/pareto?${q}`);
    drawPareto();
  }

  function drawHistory() {
    const h = state.history;
    Plotly.react('hv', [{type: 'scatter', mode: 'lines+markers', x: h.map(p => p.n_trials), y: h.map(p => p.hypervolume),
                         text: h.map(p => `front of ${p.front_size}`), hovertemplate: 'after %{x} trials: %{y:.4f} (%{text})<extra></extra>'}],
                 {margin: {t: 10, r: 10}, xaxis: {title: {text: 'finished trials'}},
                  yaxis: {title: {text: 'normalised hypervolume'}, rangemode: 'tozero'}}, {responsive: true, displaylogo: false});
  }

  async function drawParams() {
    const P = await nas.get(`/api/studies/${enc}/params`);
    const dims = [];
    for (const [key, vals] of Object.entries(P.params)) {
      const present = vals.filter(v => v !== null);
      if (!present.length || new Set(present).size < 2 && key !== 'family') continue;
      if (typeof present[0] === 'string' || typeof present[0] === 'boolean') {
        const cats = [...new Set(present.map(String))].sort();
        dims.push({label: key, values: vals.map(v => v === null ? -1 : cats.indexOf(String(v))),
                   tickvals: cats.map((_, i) => i), ticktext: cats, range: [-1, Math.max(1, cats.length - 1)]});
      } else {
        dims.push({label: key, values: vals.map(v => v === null ? NaN : v)});
      }
    }
    dims.push({label: 'accuracy', values: P.accuracy.map(v => v === null ? 0 : v), range: [0, 1]});
    Plotly.react('parcoords', [{type: 'parcoords', dimensions: dims,
                                line: {color: P.accuracy.map(v => v === null ? 0 : v), colorscale: 'Viridis', showscale: true}}],
                 {margin: {t: 40, l: 40, r: 40}}, {responsive: true, displaylogo: false});
  }

  function drawTrials() {
    const T = state.trials;
    const rows = T.items.map(t => `<tr>
      <td><a href="/trials/${t.id}">${t.number}</a></td><td><span class="status ${t.status}">${t.status}</span></td>
      <td title="${nas.esc(t.reason || '')}">${nas.esc(t.arch)}</td><td class="num">${t.bits}</td><td class="num">${t.prune_ratio}</td>
      <td class="num">${nas.fmt(t.accuracy, 3)}</td><td class="num">${nas.fmt(t.test_accuracy, 3)}</td>
      <td class="num">${nas.fmt(t.latency_ms, 2)}</td><td class="num">${nas.fmt(t.ram_kb, 1)}</td>
      <td class="num">${nas.fmt(t.flash_kb, 1)}</td><td class="num">${nas.fmt(t.params)}</td><td class="num">${nas.fmt(t.macs)}</td>
      <td>${t.finished_at.replace('T', ' ').slice(0, 19)}</td></tr>`);
    document.querySelector('#trials tbody').innerHTML = rows.join('');
    const pages = Math.max(1, Math.ceil(T.total / T.per_page));
    $('page-info').textContent = `page ${T.page} of ${pages}`;
    $('trial-count').textContent = `${T.total} trials`;
    $('prev-page').disabled = T.page <= 1;
    $('next-page').disabled = T.page >= pages;
    document.querySelectorAll('#trials th').forEach(th => th.classList.toggle('sorted', th.dataset.sort === state.sort));
  }

  async function loadTrials() {
    if (state.sort === 'status' || state.sort === 'arch') state.sort = 'number';
    state.trials = await nas.get(`/api/studies/${enc}/trials?page=${state.page}&per_page=50&sort=${state.sort}&order=${state.order}`);
    drawTrials();
  }

  function drawStudy() {
    const s = state.study;
    $('status').textContent = s.status;
    $('status').className = 'status ' + s.status;
    $('progress-bar').style.width = (100 * s.progress).toFixed(1) + '%';
    $('progress-text').textContent = `${s.finished}/${s.budget} trials (${s.feasible} feasible, ${s.failed} failed)`;
    $('hv-now').textContent = nas.fmt(s.hypervolume, 4);
  }

  async function poll() {
    try {
      const s = await nas.get(`/api/studies/${enc}`);
      const changed = s.finished !== state.study.finished;
      state.study = s;
      drawStudy();
      if (changed) {
        state.history = await nas.get(`/api/studies/${enc}/history`);
        drawHistory();
        await Promise.all([loadPareto(), loadTrials(), drawParams()]);
      }
      if (s.status === 'running' || s.status === 'created') setTimeout(poll, D.poll_ms);
    } catch (e) { console.warn(e); setTimeout(poll, D.poll_ms * 4); }
  }

  for (const id of ['x-axis', 'y-axis', 'color-by']) $(id).addEventListener('change', drawPareto);
  for (const id of ['device', 'show-infeasible']) $(id).addEventListener('change', loadPareto);
  document.querySelectorAll('#trials th').forEach(th => th.addEventListener('click', () => {
    const key = th.dataset.sort;
    state.order = state.sort === key && state.order === 'asc' ? 'desc' : 'asc';
    state.sort = key; state.page = 1; loadTrials();
  }));
  $('prev-page').addEventListener('click', () => { state.page -= 1; loadTrials(); });
  $('next-page').addEventListener('click', () => { state.page += 1; loadTrials(); });

  drawPareto();
  $('pareto').on('plotly_click', ev => { location.href = '/trials/' + ev.points[0].customdata[0]; });
  drawHistory();
  drawTrials();
  drawParams().catch(e => console.warn(e));
  if (state.study.status === 'running' || state.study.status === 'created') setTimeout(poll, D.poll_ms);
})();

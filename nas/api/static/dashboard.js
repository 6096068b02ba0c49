// Shared helpers of the dashboard pages (no framework: the pages are rendered by the server).
const nas = {
  fmt(v, digits) {
    if (v === null || v === undefined) return '-';
    if (typeof v === 'number' && digits !== undefined) return v.toFixed(digits);
    return String(v);
  },
  esc(s) {
    return String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  },
  async get(url) {
    const r = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
    if (!r.ok) throw new Error(url + ': ' + r.status + ' ' + ((await r.json().catch(() => ({}))).detail || ''));
    return r.json();
  },
  // Poll the studies list while any study runs, updating status and progress in place.
  pollStudies(ms) {
    const tick = async () => {
      let studies;
      try { studies = await nas.get('/api/studies'); } catch (e) { return setTimeout(tick, ms * 4); }
      const rows = new Map([...document.querySelectorAll('#studies tbody tr')].map(r => [r.dataset.name, r]));
      if (studies.some(s => !rows.has(s.name))) return location.reload();
      for (const s of studies) {
        const r = rows.get(s.name);
        r.querySelector('.status').textContent = s.status;
        r.querySelector('.status').className = 'status ' + s.status;
        r.querySelector('.bar > div').style.width = (100 * s.progress).toFixed(1) + '%';
        r.querySelector('.count').textContent = s.finished + '/' + s.budget;
      }
      if (studies.some(s => s.status === 'running')) setTimeout(tick, ms);
    };
    setTimeout(tick, ms);
  },
};

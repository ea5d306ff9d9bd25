import { html, render, useState, useEffect, useRef, uPlot } from './vendor.js';
import { api, getKey, setKey, stream } from './api.js';
import { checkInclusion } from './proof.js';

const VIEWS = [
  ['events', 'Events'], ['live', 'Live tail'], ['stats', 'Statistics'], ['exports', 'Exports'], ['alerts', 'Alerts'],
  ['retention', 'Retention'], ['integrations', 'Integrations'], ['integrity', 'Integrity'], ['status', 'Status'],
];
const FILTERS = ['category', 'event_type', 'severity', 'since', 'start', 'end', 'q', 'source', 'ip_address', 'session_id'];
const SEVERITIES = ['', 'debug', 'info', 'warning', 'error', 'critical'];

// The view and its filter live in the URL hash (#events?category=security&since=24h): a deep link reproduces it.
function parseHash() {
  const [view, query] = location.hash.replace(/^#\/?/, '').split('?');
  return { view: VIEWS.some(([v]) => v === view) ? view : 'events', params: new URLSearchParams(query ?? '') };
}
export function go(view, params) {
  const q = new URLSearchParams([...params].filter(([, v]) => v !== ''));
  location.hash = `${view}${q.size ? `?${q}` : ''}`;
}
const filterOnly = (params) => new URLSearchParams([...params].filter(([k]) => k !== 'offset'));

const local = (iso) => (iso ? new Date(iso).toLocaleString() : '');
const Time = ({ iso }) => html`<time datetime=${iso} title=${`${iso} (UTC)`}>${local(iso)}</time>`;
const Err = ({ e }) => (e ? html`<p class="error" role="alert">${e.message ?? String(e)}</p>` : null);
const yes = (b) => (b ? 'yes' : 'no');
const num = (n) => (n == null ? '' : Number(n).toLocaleString());
const bytes = (n) => (n == null ? '' : n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);

/** A table of `rows` with `columns` as [heading, cell(row)]; `empty` says what no rows means. */
function DataTable({ label, columns, rows, empty }) {
  if (!rows?.length) return html`<p class="empty">${empty}</p>`;
  return html`<div class="scroll"><table aria-label=${label}><thead><tr>${columns.map(([h]) => html`<th scope="col">${h}</th>`)}</tr></thead>
    <tbody>${rows.map((r, i) => html`<tr key=${r.id ?? i}>${columns.map(([, cell]) => html`<td>${cell(r)}</td>`)}</tr>`)}</tbody></table></div>`;
}

/** Name and value pairs as a two-column table (a record, not a list). */
function Fields({ label, fields }) {
  return html`<table class="fields" aria-label=${label}><tbody>${fields.map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`)}</tbody></table>`;
}

function useLoad(fn, deps, { keep = false } = {}) {
  // The answer is kept with the deps it was loaded for: when they change, the view shows nothing (loading)
  // until the new answer comes, never the old one under the new deps (a chart split by severity drawn from
  // the category answer, whose click would filter by a category's name as a severity). With `keep`, a list
  // shows the previous answer marked stale meanwhile, so its pager keeps the keyboard focus across pages.
  const key = JSON.stringify(deps);
  const [state, setState] = useState({ key: null, data: null, error: null });
  useEffect(() => {
    let live = true;
    fn().then((data) => live && setState({ key, data, error: null }), (error) => live && setState({ key, data: null, error }));
    return () => { live = false; };
  }, deps);
  if (state.key === key) return { data: state.data, error: state.error, stale: false };
  return keep && state.data !== null ? { data: state.data, error: null, stale: true } : { data: null, error: null, stale: false };
}

function SignIn({ onDone }) {
  const [key, setK] = useState('');
  const [error, setError] = useState(null);
  const submit = async (ev) => {
    ev.preventDefault();
    setKey(key);
    try {
      await api('/audit/events?limit=1');
      onDone();
    } catch (e) {
      setKey(null);
      setError(e);
    }
  };
  return html`<form class="signin" onSubmit=${submit} aria-label="Sign in">
    <h1>HOMEPOT Audit</h1>
    <label>API key<input id="api-key" type="password" autocomplete="off" value=${key} onInput=${(e) => setK(e.target.value)} /></label>
    <p>The key stays in this tab only (sessionStorage). Leave it empty on a loopback server without keys.</p>
    <button type="submit">Sign in</button>
    <${Err} e=${error} />
  </form>`;
}

function FilterForm({ params, onApply, extra }) {
  const [f, setF] = useState(() => Object.fromEntries([...params]));
  useEffect(() => setF(Object.fromEntries([...params])), [params.toString()]);
  const meta = Object.keys(f).filter((k) => k.startsWith('metadata.'));
  const field = (name, label, type = 'text') => html`<label>${label}<input name=${name} type=${type} value=${f[name] ?? ''}
    onInput=${(e) => setF({ ...f, [name]: e.target.value })} /></label>`;
  const [metaKey, setMetaKey] = useState('');
  const [metaValue, setMetaValue] = useState('');
  const submit = (ev) => {
    ev.preventDefault();
    const next = { ...f };
    // A new metadata.<key> filter; once applied it shows as its own field.
    if (metaKey && metaValue) next[`metadata.${metaKey}`] = metaValue;
    onApply(new URLSearchParams(Object.entries(next).filter(([, v]) => v !== '')));
  };
  return html`<form class="filters" onSubmit=${submit} aria-label="Filters">
    ${field('category', 'Category')}
    ${field('event_type', 'Event type')}
    <label>Severity<select name="severity" value=${f.severity ?? ''} onChange=${(e) => setF({ ...f, severity: e.target.value })}>
      ${SEVERITIES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}</select></label>
    <label>Since<select name="since" value=${f.since ?? ''} onChange=${(e) => setF({ ...f, since: e.target.value })}>
      ${['', '15m', '1h', '24h', '7d', '30d'].map((s) => html`<option value=${s}>${s || 'any time'}</option>`)}</select></label>
    ${field('start', 'From (ISO)')}
    ${field('end', 'To (ISO)')}
    ${field('q', 'Text')}
    ${meta.map((k) => field(k, k))}
    <label>Metadata key<input name="metadata-key" value=${metaKey} onInput=${(e) => setMetaKey(e.target.value)} placeholder="site_id" /></label>
    <label>Metadata value<input name="metadata-value" value=${metaValue} onInput=${(e) => setMetaValue(e.target.value)} /></label>
    <button type="submit">Apply</button>
    ${extra}
  </form>`;
}

function ProofCheck({ event }) {
  const [state, setState] = useState({ text: 'checking inclusion proof...' });
  useEffect(() => {
    (async () => {
      try {
        const proof = await api(`/audit/events/${event.id}/proof`);
        const checkpoint = proof.checkpoint ?? (await api('/audit/integrity/checkpoint'));
        const r = await checkInclusion(event, proof, checkpoint.root_hash ?? proof.root_hash);
        setState(r.ok
          ? { cls: 'verified', text: `verified: leaf ${proof.leaf_index} of ${proof.tree_size}, root matches the signed checkpoint` }
          : { cls: 'failed', text: `NOT verified (leaf ${r.leafMatches ? 'matches' : 'differs'}, root ${r.rootMatches ? 'matches' : 'differs'})` });
      } catch (e) {
        setState({ cls: e.status === 409 ? '' : 'failed', text: e.status === 409 ? 'not in a checkpoint yet' : `proof unavailable: ${e.message}` });
      }
    })();
  }, [event.id]);
  return html`<p id="proof-status" class=${state.cls ?? ''} role="status">${state.text}</p>`;
}

const FOCUSABLE = 'a[href], button:not([disabled]), input, select, textarea, [tabindex]:not([tabindex="-1"])';

/** A modal dialog: focus moves in, Tab stays in, Escape closes, and focus goes back where it was. */
function Drawer({ event, onClose: close }) {
  const ref = useRef();
  const box = useRef();
  const opener = useRef(null);
  // Back to the row's button (found again: the table may have re-rendered), else to what had the focus.
  const giveBack = () => {
    const row = [...document.querySelectorAll('tr[data-id] button.link')].find((b) => b.closest('tr').dataset.id === event.id);
    (row ?? (opener.current?.isConnected ? opener.current : null))?.focus();
  };
  // Closing gives the focus back before the dialog goes: Preact 11 runs an unmounted effect's cleanup after the
  // DOM is gone, so a cleanup alone would leave the focus on <body> for a moment. The cleanup covers the other
  // ways out (the view changed under it), and only when the focus was lost with the dialog.
  const onClose = () => { giveBack(); close(); };
  useEffect(() => {
    opener.current = document.activeElement;
    return () => { if (!document.activeElement || document.activeElement === document.body) giveBack(); };
  }, [event.id]);
  useEffect(() => ref.current?.focus(), [event.id]);
  const onKeyDown = (e) => {
    if (e.key === 'Escape') { e.preventDefault(); onClose(); return; }
    if (e.key !== 'Tab') return;
    const items = [...box.current.querySelectorAll(FOCUSABLE)];
    if (!items.length) return;
    const first = items[0], last = items[items.length - 1];
    if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
  };
  return html`<div class="backdrop" onClick=${onClose}></div>
    <aside class="drawer" ref=${box} role="dialog" aria-modal="true" aria-labelledby="drawer-title" onKeyDown=${onKeyDown}>
    <button ref=${ref} class="secondary" onClick=${onClose} aria-label="Close the event detail (Escape)">Close</button>
    <h2 id="drawer-title">${event.event_type}</h2>
    <p><${Time} iso=${event.timestamp} /> · ${event.category} · ${event.severity}</p>
    <p>${event.description}</p>
    <h3>Integrity</h3><${ProofCheck} event=${event} />
    <h3>Metadata</h3><pre tabindex="0" aria-label="Metadata">${JSON.stringify(event.metadata ?? {}, null, 2)}</pre>
    <h3>Whole event</h3><pre tabindex="0" aria-label="Whole event">${JSON.stringify(event, null, 2)}</pre>
  </aside>`;
}

function EventTable({ events, onOpen }) {
  return html`<table aria-label="Events"><thead><tr><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Category</th><th scope="col">Severity</th><th scope="col">Description</th><th scope="col">Source</th></tr></thead>
    <tbody>${events.map((e) => html`<tr key=${e.id} data-id=${e.id}>
      <td><${Time} iso=${e.timestamp} /></td>
      <td><button class="link" onClick=${() => onOpen(e)}>${e.event_type}</button></td>
      <td>${e.category}</td><td class=${`sev-${e.severity}`}>${e.severity}</td><td>${e.description}</td><td>${e.source ?? ''}</td>
    </tr>`)}</tbody></table>`;
}

function Events({ params }) {
  const offset = Number(params.get('offset') ?? 0);
  const [open, setOpen] = useState(null);
  const q = new URLSearchParams(params);
  q.set('limit', q.get('limit') ?? '50');
  const { data, error, stale } = useLoad(() => api(`/audit/events?${q}`), [q.toString()], { keep: true });
  const page = (o) => { const p = new URLSearchParams(params); p.set('offset', String(o)); go('events', p); };
  return html`<section aria-label="Events view" aria-busy=${stale ? 'true' : undefined}>
    <${FilterForm} params=${filterOnly(params)} onApply=${(p) => go('events', p)} />
    <${Err} e=${error} />
    ${data && html`<p id="events-total">${data.total} events</p>
      <${EventTable} events=${data.events} onOpen=${setOpen} />
      <div class="pager">
        <button class="secondary" disabled=${offset === 0} onClick=${() => page(Math.max(0, offset - data.limit))}>Newer</button>
        <span>${offset + 1}-${offset + data.events.length}</span>
        <button class="secondary" disabled=${data.next_offset == null} onClick=${() => page(data.next_offset)}>Older</button>
      </div>`}
    ${open && html`<${Drawer} event=${open} onClose=${() => setOpen(null)} />`}
  </section>`;
}

function Live({ params }) {
  const [events, setEvents] = useState([]);
  const [paused, setPaused] = useState(false);
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  const filter = filterOnly(params);
  useEffect(() => {
    const ctl = new AbortController();
    setEvents([]);
    setConnected(false);
    // The server sends `ready` once it has fixed where the stream starts: only from then on is "live" true.
    stream(`/audit/events/stream?${filter}`, (type, data) => {
      if (type === 'ready') setConnected(true);
      else if (type === 'message' && !pausedRef.current) setEvents((list) => [data, ...list].slice(0, 500));
    }, ctl.signal).catch((e) => e.name !== 'AbortError' && setError(e));
    return () => ctl.abort();
  }, [filter.toString()]);
  const toggle = html`<button type="button" class="secondary" id="pause" aria-pressed=${paused} onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>`;
  return html`<section aria-label="Live tail">
    <${FilterForm} params=${filter} onApply=${(p) => go('live', p)} extra=${toggle} />
    <p role="status">${!connected ? 'Connecting to the live stream' : paused ? 'Paused: new events are not shown' : 'Live: newest first'} · ${events.length} received</p>
    <${Err} e=${error} />
    <${EventTable} events=${events} onOpen=${setOpen} />
    ${open && html`<${Drawer} event=${open} onClose=${() => setOpen(null)} />`}
  </section>`;
}

// Fixed colours per severity (dark enough against white for the legend's text); categories take the palette in turn.
const SEVERITY_COLOURS = { debug: '#6b6b6b', info: '#0b4f9c', warning: '#9a5b00', error: '#c0392b', critical: '#6d1b7b' };
const PALETTE = ['#0b4f9c', '#b35900', '#1e7b3a', '#8e2a8e', '#a3213b', '#2b6c80', '#6b5a00', '#555555'];
const colourOf = (by, key, i) => (by === 'severity' ? SEVERITY_COLOURS[key] : undefined) ?? PALETTE[i % PALETTE.length];

/**
 * The timeline's hours as stacked bars, one series per key: each series holds the running sum up to its key,
 * and they are drawn tallest first, so each key shows as its own segment. `stackOrder[i]` is the key of the
 * segment i from the bottom.
 */
export function stack(timeline, keys) {
  const sums = [];
  let below = timeline.map(() => 0);
  for (const k of keys) {
    below = timeline.map((b, j) => below[j] + (b.counts[k] ?? 0));
    sums.push(below);
  }
  return sums;
}

/** The key whose segment of bucket `j` holds the value `y`, or null above the bar. */
export function segmentAt(sums, keys, j, y) {
  for (let i = 0; i < keys.length; i++) if (y <= sums[i][j] && sums[i][j] > (i ? sums[i - 1][j] : 0)) return keys[i];
  return null;
}

function Histogram({ data, by }) {
  const ref = useRef();
  useEffect(() => {
    const { timeline, keys } = data;
    const xs = timeline.map((b) => Date.parse(b.bucket) / 1000);
    const sums = stack(timeline, keys);
    const width = Math.max(320, Math.min(1100, ref.current.clientWidth || 900));
    // Drawn tallest first: the last key (top segment) first, the first key (bottom) last and on top.
    const order = keys.map((_, i) => keys.length - 1 - i);
    const plot = new uPlot({
      width, height: 240, title: `Events per hour by ${by}, last 24 hours (click a segment to see its events)`,
      series: [{}, ...order.map((i) => ({
        label: keys[i], fill: colourOf(by, keys[i], i), stroke: colourOf(by, keys[i], i),
        paths: uPlot.paths.bars({ size: [0.8] }), points: { show: false },
        value: (u, v, si, j) => (j == null ? '' : String(timeline[j].counts[keys[i]] ?? 0)),
      }))],
      axes: [{}, {}],
      // Bars stand on zero, whatever the smallest count shown.
      scales: { y: { range: (u, min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] } },
      cursor: { drag: { x: false, y: false } },
    }, [xs, ...order.map((i) => sums[i].map((v) => v || null))], ref.current);
    // A click filters the table to that hour and, on a segment, to its category or severity.
    const onClick = () => {
      const j = plot.cursor.idx;
      if (j == null) return;
      const start = new Date(xs[j] * 1000);
      const end = new Date(xs[j] * 1000 + data.bucket_seconds * 1000 - 1);
      const key = segmentAt(sums, keys, j, plot.posToVal(plot.cursor.top, 'y'));
      go('events', new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), ...(key ? { [by]: key } : {}) }));
    };
    plot.over.addEventListener('click', onClick);
    return () => plot.destroy();
  }, [JSON.stringify(data), by]);
  return html`<div id="histogram" ref=${ref} data-by=${by} data-keys=${data.keys.join(',')}></div>`;
}

/** The histogram's numbers as a table: what a keyboard or a screen reader uses instead of the canvas. */
function HistogramTable({ data, by }) {
  const rows = data.timeline.filter((b) => b.total > 0).reverse();
  const link = (b, k) => {
    const start = new Date(Date.parse(b.bucket));
    const end = new Date(start.getTime() + data.bucket_seconds * 1000 - 1);
    return `#events?${new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), ...(k ? { [by]: k } : {}) })}`;
  };
  return html`<details class="histogram-table"><summary>The histogram as a table</summary>
    <${DataTable} label=${`Events per hour by ${by}`} empty="No events in the last 24 hours." rows=${rows}
      columns=${[['Hour', (b) => html`<a href=${link(b)}><${Time} iso=${b.bucket} /></a>`], ['Total', (b) => num(b.total)],
        ...data.keys.map((k) => [k, (b) => (b.counts[k] ? html`<a href=${link(b, k)} aria-label=${`${b.counts[k]} ${k} events at ${local(b.bucket)}`}>${num(b.counts[k])}</a>` : '0')])]} />
  </details>`;
}

function Volume({ by }) {
  const { data, error } = useLoad(() => api(`/audit/statistics/timeline?breakdown=${by}&hours=24`), [by]);
  const pick = (v) => go('stats', new URLSearchParams({ by: v }));
  return html`<section aria-labelledby="volume-title"><h2 id="volume-title">Volume</h2>
    <fieldset class="toggle"><legend>Split the histogram by</legend>
      ${['category', 'severity'].map((v) => html`<label class="inline"><input type="radio" name="split" value=${v} checked=${by === v} onChange=${() => pick(v)} /> ${v}</label>`)}
    </fieldset>
    <${Err} e=${error} />
    ${data && html`<${Histogram} data=${data} by=${by} /><${HistogramTable} data=${data} by=${by} />`}
  </section>`;
}

function Counts({ title, entries, param }) {
  return html`<div><h3>${title}</h3>${entries.length ? html`<ol>${entries.map(([k, n]) => html`<li>
    <a href=${`#events?${new URLSearchParams({ [param]: k })}`} data-filter=${`${param}=${k}`}>${k}</a> (${num(n)})</li>`)}</ol>` : html`<p class="empty">None yet.</p>`}</div>`;
}

function Stats({ params }) {
  const by = params.get('by') === 'severity' ? 'severity' : 'category';
  const { data, error } = useLoad(() => api('/audit/statistics/detailed'), []);
  if (error) return html`<${Err} e=${error} />`;
  if (!data) return html`<p>loading...</p>`;
  const r = data.recent_activity ?? {};
  return html`<section aria-label="Statistics">
    <div class="cards">
      <div class="card">Total<b id="stat-total">${num(data.total_events)}</b></div>
      <div class="card">Last hour<b>${num(r.last_hour)}</b></div>
      <div class="card">Last 24 hours<b>${num(r.last_24_hours)}</b></div>
      <div class="card">Last week<b>${num(r.last_week)}</b></div>
    </div>
    <${Volume} by=${by} />
    <div class="lists">
      <${Counts} title="By category" param="category" entries=${Object.entries(data.events_by_category ?? {}).sort((a, b) => b[1] - a[1])} />
      <${Counts} title="By severity" param="severity" entries=${Object.entries(data.events_by_severity ?? {}).sort((a, b) => b[1] - a[1])} />
      <${Counts} title="Top sites (7 days)" param="metadata.site_id" entries=${(data.top_sites ?? []).map((s) => [s.site_id, s.events])} />
      <${Counts} title="Top devices" param="metadata.device_id" entries=${(data.top_devices ?? []).map((s) => [s.device_id, s.events])} />
      <${Counts} title="Top users" param="metadata.user_id" entries=${(data.top_users ?? []).map((s) => [s.user_id, s.events])} />
    </div>
  </section>`;
}

async function download(url, name) {
  const res = await fetch(url, { headers: { ...(getKey() ? { 'X-API-Key': getKey() } : {}) } });
  if (!res.ok) throw new Error(`download: ${res.status}`);
  const blob = await res.blob();
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}

function Exports({ params }) {
  const [format, setFormat] = useState('csv');
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const filter = filterOnly(params);
  useEffect(() => {
    if (!job || ['done', 'failed', 'expired'].includes(job.state)) return undefined;
    const t = setTimeout(() => api(job.status_url).then(setJob, setError), 500);
    return () => clearTimeout(t);
  }, [job]);
  const start = async (ev) => {
    ev.preventDefault();
    setError(null);
    // The export API wants a bounded period of at most 3660 days: the filter's, else the last ten years.
    const end = filter.get('end') ?? new Date(Date.now() + 86_400_000).toISOString();
    const start = filter.get('start') ?? new Date(Date.parse(end) - 3650 * 86_400_000).toISOString();
    const body = { format, period: { start, end } };
    if (filter.get('category')) body.categories = filter.get('category').split(',');
    for (const k of ['event_type', 'severity', 'q', 'source', 'ip_address', 'session_id']) if (filter.get(k)) body[k] = filter.get(k);
    for (const [k, v] of filter) if (k.startsWith('metadata.')) body[k] = v;
    try { setJob(await api('/audit/export', { method: 'POST', body: JSON.stringify(body) })); } catch (e) { setError(e); }
  };
  return html`<section aria-label="Exports">
    <p>Exports the events of the current filter: <code>${filter.toString() || 'everything'}</code> (set it in the Events view).</p>
    <form class="filters" onSubmit=${start}>
      <label>Format<select id="export-format" value=${format} onChange=${(e) => setFormat(e.target.value)}>
        ${['csv', 'json', 'ndjson'].map((f) => html`<option value=${f}>${f}</option>`)}</select></label>
      <button type="submit" id="start-export">Start export</button>
    </form>
    <${Err} e=${error} />
    ${job && html`<div id="export-job"><p>Job ${job.id}: <b id="export-state">${job.state}</b>
      ${job.progress ? ` ${job.progress.rows_done ?? 0} / ${job.progress.rows_expected ?? '?'} rows` : ''}</p>
      ${job.state === 'done' && html`<button id="download-export" onClick=${() => download(job.download_url, job.file?.name ?? 'export').catch(setError)}>Download ${job.file?.name} (${job.file?.size} bytes)</button>`}
    </div>`}
  </section>`;
}

/**
 * One read of the API shown under a heading: `show(data)` renders it; a 404 is the `missing` empty state (a
 * checkpoint before the first), any other failure an error.
 */
function Panel({ title, path, render: show, missing, level = 2 }) {
  const { data, error } = useLoad(() => api(path), [path]);
  const H = `h${level}`;
  const body = error
    ? error.status === 404 && missing ? html`<p class="empty">${missing}</p>` : html`<${Err} e=${error} />`
    : data ? show(data) : html`<p>loading...</p>`;
  return html`<section aria-label=${title}><${H}>${title}</${H}>${body}</section>`;
}

function Firings({ list }) {
  return html`<${DataTable} label="Firings" empty="This rule has not fired." rows=${list.firings}
    columns=${[['Window', (f) => html`<${Time} iso=${f.window_start} /> to <${Time} iso=${f.window_end} />`],
      ['Events', (f) => html`<a href=${`#events?${new URLSearchParams({ start: f.window_start, end: f.window_end })}`}>${f.event_ids.length}</a>`],
      ['Group', (f) => Object.entries(f.group ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || 'all'],
      ['Silenced', (f) => yes(f.silenced)],
      ['Deliveries', (f) => (f.deliveries ?? []).map((d) => `${d.channel ?? d.kind ?? ''} ${d.status ?? d.outcome ?? ''}`.trim()).join(', ') || 'none'],
      ['Fired at', (f) => html`<${Time} iso=${f.created_at} />`]]} />`;
}

function Alerts() {
  const [firings, setFirings] = useState({});
  const [error, setError] = useState(null);
  const show = async (a) => {
    setError(null);
    try { setFirings({ ...firings, [a.id]: await api(`/audit/alerts/${a.id}/firings?limit=20`) }); } catch (e) { setError(e); }
  };
  return html`<${Panel} title="Alert rules" path="/audit/alerts" render=${(d) => html`<${Err} e=${error} />
    <${DataTable} label="Alert rules" empty="No alert rules yet: POST /audit/alerts creates one." rows=${d.alerts}
      columns=${[['Name', (a) => a.alert_name], ['Event types', (a) => (a.event_types ?? []).join(', ') || 'any'],
        ['Threshold', (a) => `${a.threshold} in ${a.time_window} s`], ['Severity', (a) => a.severity ?? ''],
        ['Enabled', (a) => yes(a.enabled)],
        ['Silences', (a) => ((a.silences ?? []).length ? a.silences.map((x) => html`<div><${Time} iso=${x.start} /> to <${Time} iso=${x.end} />${x.reason ? `: ${x.reason}` : ''}</div>`) : 'none')],
        ['Firings', (a) => html`<button class="secondary" aria-expanded=${Boolean(firings[a.id])} aria-label=${`Show the firings of ${a.alert_name}`} onClick=${() => show(a)}>Show</button>`]]} />
    ${d.alerts.filter((a) => firings[a.id]).map((a) => html`<h3>Firings of ${a.alert_name}</h3><${Firings} list=${firings[a.id]} />`)}`} />`;
}

const period = (days, text) => (text && !/^P\d+D$/.test(text) ? text : days != null ? `${days} days` : 'never');
const span = (s) => (s && s.events ? `${num(s.events)} events, ${s.days} days (${s.from} to ${s.to})` : 'nothing');

function Retention() {
  return html`<${Panel} title="Retention policy and state" path="/audit/retention" render=${(d) => {
    const p = d.policy;
    const st = d.state ?? {};
    return html`${(d.warnings ?? []).map((w) => html`<p class="warning" role="status">${w}</p>`)}
      ${p ? html`<h3>Policy</h3><${Fields} label="Retention policy" fields=${[
        ['Kept for', period(p.retention_days, p.retention_period)],
        ['Archived after', period(p.archive_after_days, p.archive_after_period)],
        ['Compressed archives', yes(p.compress_archives)], ['Encryption required', yes(p.encryption_required)],
        ['Preset', p.preset ?? 'none'],
        ['Per category', Object.entries(p.categories ?? {}).map(([c, o]) => `${c}: ${period(o.retention_days, o.retention_period)}`).join('; ') || 'none'],
        ['Changed', html`<${Time} iso=${d.updated_at} /> by ${d.updated_by ?? ''}`]]} />`
        : html`<p class="empty">No retention policy yet: events are kept until one is set (POST /audit/retention).</p>`}
      <h3>Pending changes</h3>
      <${DataTable} label="Pending retention changes" empty="No pending changes." rows=${d.pending ?? []}
        columns=${[['Takes effect', (c) => html`<${Time} iso=${c.effective_at} />`],
          ['Kept for', (c) => period(c.policy?.retention_days, c.policy?.retention_period)],
          ['Would archive', (c) => span(c.dry_run?.archive)], ['Would delete', (c) => span(c.dry_run?.delete)],
          ['Archives it would delete', (c) => (c.dry_run?.delete_archives?.events ? `${num(c.dry_run.delete_archives.events)} events` : 'none')]]} />
      <h3>State</h3><${Fields} label="Retention state" fields=${[
        ['Oldest day online', st.oldest_online_day ?? 'none'], ['Events online', num(st.events_online)],
        ['Due for archive', num(st.events_due_for_archive)], ['Due for deletion', num(st.events_due_for_deletion)],
        ['Kept by legal holds', num(st.events_kept_by_holds)], ['Active holds', num(st.active_holds)],
        ['Archives', num(st.archives_held)],
        ['Archive recipients', d.archiving ? num(d.archiving.recipients_configured) : ''],
        ['Last run', st.last_run ? html`<${Time} iso=${st.last_run} />` : 'never'],
        ['Next run', st.next_run ? html`<${Time} iso=${st.next_run} />` : 'not scheduled']]} />`;
  }} />
    <${Panel} title="Archives" path="/audit/archives" render=${(d) => html`<${DataTable} label="Archives" empty="No archives yet."
      rows=${d.archives} columns=${[['Category', (a) => a.category], ['Day', (a) => a.day], ['Events', (a) => num(a.event_count)],
        ['Size', (a) => bytes(a.object_size)], ['Compression', (a) => a.compression ?? 'none'],
        ['Encrypted', (a) => ((a.recipients ?? []).length ? `yes (${a.recipients.length} recipients)` : 'no')],
        ['SHA-256', (a) => html`<code title=${a.object_sha256}>${(a.object_sha256 ?? '').slice(0, 12)}</code>`], ['Object', (a) => html`<code>${a.object_key}</code>`]]} />`} />
    <${Panel} title="Legal holds" path="/audit/legal-holds" render=${(d) => html`<${DataTable} label="Legal holds" empty="No active legal holds."
      rows=${d.holds} columns=${[['Category', (h) => h.category ?? 'all'], ['From', (h) => html`<${Time} iso=${h.from} />`],
        ['To', (h) => html`<${Time} iso=${h.to} />`], ['Reason', (h) => h.reason], ['Case', (h) => h.case_id ?? ''],
        ['Placed', (h) => html`<${Time} iso=${h.created_at} /> by ${h.created_by ?? ''}`],
        ['Released', (h) => (h.released_at ? html`<${Time} iso=${h.released_at} />` : 'no')]]} />`} />`;
}

function Integrations() {
  return html`<${Panel} title="SIEM integrations" path="/audit/integrations" render=${(d) => html`<${DataTable} label="SIEM integrations"
    empty="No SIEM integrations yet: POST /audit/integrations adds one." rows=${d.integrations}
    columns=${[['Name', (i) => i.name], ['Destination', (i) => [i.transport, i.destination].filter(Boolean).join(' ')], ['Format', (i) => i.format],
      ['State', (i) => html`<span class=${`state-${i.health?.state}`}>${i.health?.state ?? ''}</span>`], ['Sent', (i) => num(i.health?.sent)],
      ['Failed', (i) => num(i.health?.failed)], ['Lag (events)', (i) => num(i.health?.lag_events)],
      ['Last success', (i) => (i.health?.last_success_at ? html`<${Time} iso=${i.health.last_success_at} />` : 'never')],
      ['Last error', (i) => (i.health?.last_error ? html`<span class="error">${i.health.last_error}</span>${i.health.last_error_at ? html` (<${Time} iso=${i.health.last_error_at} />)` : ''}` : 'none')]]} />`} />`;
}

function VerifyResult({ r }) {
  const findings = ['modified', 'removed', 'inserted', 'reordered'].flatMap((kind) => (r[kind] ?? []).map((f) => ({ ...f, kind })));
  return html`<p id="verify-result" class=${r.ok ? 'verified' : 'failed'} role="status">${r.ok ? 'ok' : 'mismatch'}: ${r.leaves_checked} leaves checked</p>
    <${Fields} label="Verification" fields=${[['Leaves checked', num(r.leaves_checked)], ['Events checked', num(r.events_checked)],
      ['Pending (not reached by one side yet)', num(r.pending)], ['Removed by retention (expected)', num(r.pruned ?? 0)], ['Checkpoint root matches', r.checkpoint_root_matches == null ? 'no checkpoint' : yes(r.checkpoint_root_matches)]]} />
    <${DataTable} label="Findings" empty="No findings: every leaf matches its stored event." rows=${findings}
      columns=${[['Finding', (f) => f.kind], ['Event', (f) => f.id], ['Leaf', (f) => f.leaf_index ?? ''], ['Detail', (f) => f.detail ?? '']]} />`;
}

function Integrity() {
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const verify = async (ev) => {
    ev.preventDefault();
    setError(null);
    try { setResult(await api('/audit/integrity/verify', { method: 'POST', body: JSON.stringify({ ...(from ? { from } : {}), ...(to ? { to } : {}) }) })); } catch (e) { setError(e); }
  };
  return html`<${Panel} title="Latest checkpoint" path="/audit/integrity/checkpoint" missing="No checkpoint yet: the first is signed on schedule, or by POST /audit/integrity/checkpoint."
    render=${(c) => html`<${Fields} label="Latest checkpoint" fields=${[['Origin', c.origin], ['Tree size', num(c.tree_size)],
      ['Root hash', html`<code>${c.root_hash}</code>`], ['Reason', c.reason], ['Signed', html`<${Time} iso=${c.created_at} />`]]} />
      <details><summary>Signed note</summary><pre tabindex="0" aria-label="Signed note">${c.note}</pre></details>`} />
    <section aria-labelledby="verify-title"><h2 id="verify-title">Verify a range</h2>
    <form class="filters" onSubmit=${verify} aria-label="Verify a range">
      <label>From (RFC 3339)<input value=${from} onInput=${(e) => setFrom(e.target.value)} /></label>
      <label>To (RFC 3339)<input value=${to} onInput=${(e) => setTo(e.target.value)} /></label>
      <button type="submit">Verify range</button>
    </form><${Err} e=${error} />${result && html`<${VerifyResult} r=${result} />`}</section>`;
}

/** A component's detail as short text: scalars as they are, objects by their own scalars. */
function summary(detail) {
  if (detail == null || typeof detail !== 'object') return detail == null ? '' : String(detail);
  return Object.entries(detail).filter(([, v]) => v !== null && typeof v !== 'object').map(([k, v]) => `${k.replaceAll('_', ' ')}: ${v}`).join(' · ');
}

function Status() {
  return html`<${Panel} title="Status" path="/audit/status" render=${(d) => {
    const comps = Object.entries(d.components ?? {}).map(([name, c]) => ({ id: name, name, ...c }));
    const log = comps.find((c) => c.name === 'event_log')?.detail ?? {};
    const topics = Object.entries(log).filter(([, v]) => v && typeof v === 'object' && v.groups);
    const groups = topics.flatMap(([topic, t]) => Object.entries(t.groups).map(([g, x]) => ({ id: `${topic}/${g}`, topic, group: g, ...x })));
    const storage = Object.entries(comps.find((c) => c.name === 'query_store')?.detail?.storage ?? {}).map(([table, t]) => ({ id: table, table, ...t }));
    return html`<p id="status-overall" class=${d.status === 'ok' ? 'verified' : 'failed'} role="status">${d.status}</p>
      <${Fields} label="Service" fields=${[['Mode', d.mode], ['Version', d.version], ['Up for', `${num(d.uptime_seconds)} s`]]} />
      <h3>Components</h3>
      <${DataTable} label="Components" empty="No components reported." rows=${comps}
        columns=${[['Component', (c) => c.name.replaceAll('_', ' ')], ['State', (c) => html`<span class=${c.ok ? 'verified' : 'failed'}>${c.ok ? 'up' : 'down'}</span>`],
          ['Required', (c) => yes(c.required)], ['Detail', (c) => summary(c.detail)]]} />
      <h3>Consumer groups</h3>
      <${DataTable} label="Consumer groups" empty="No consumer groups reported." rows=${groups}
        columns=${[['Topic', (g) => g.topic], ['Group', (g) => g.group], ['Committed offset', (g) => num(g.committed_offset)], ['Lag', (g) => num(g.lag)], ['Subscribed', (g) => yes(g.subscribed)]]} />
      <h3>Query store tables</h3>
      <${DataTable} label="Query store tables" empty="No storage reported." rows=${storage}
        columns=${[['Table', (t) => t.table], ['Rows', (t) => num(t.rows)], ['On disk', (t) => bytes(t.bytes_on_disk)], ['Active parts', (t) => num(t.active_parts)]]} />`;
  }} />`;
}

function App() {
  const [route, setRoute] = useState(parseHash);
  const [signedIn, setSignedIn] = useState(getKey() !== null);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  if (!signedIn) return html`<${SignIn} onDone=${() => setSignedIn(true)} />`;
  const { view, params } = route;
  const body = { events: Events, live: Live, stats: Stats, exports: Exports, alerts: Alerts, retention: Retention,
    integrations: Integrations, integrity: Integrity, status: Status }[view];
  const carry = filterOnly(params).toString();
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to the content</a>
    <header><h1>HOMEPOT Audit</h1>
    <nav aria-label="Views">${VIEWS.map(([v, label]) => html`<a href=${`#${v}${carry && ['events', 'live', 'exports'].includes(v) ? `?${carry}` : ''}`} aria-current=${v === view ? 'page' : undefined}>${label}</a>`)}</nav>
    <button class="secondary" onClick=${() => { setKey(null); setSignedIn(false); }}>Sign out</button></header>
    <main id="main" tabindex="-1"><${body} params=${params} key=${view} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));

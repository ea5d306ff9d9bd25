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

function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null });
  useEffect(() => {
    let live = true;
    fn().then((data) => live && setState({ data, error: null }), (error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, deps);
  return state;
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

function Drawer({ event, onClose }) {
  const ref = useRef();
  useEffect(() => ref.current?.focus(), [event.id]);
  return html`<aside class="drawer" role="dialog" aria-label="Event detail" onKeyDown=${(e) => e.key === 'Escape' && onClose()}>
    <button ref=${ref} class="secondary" onClick=${onClose}>Close</button>
    <h2>${event.event_type}</h2>
    <p><${Time} iso=${event.timestamp} /> · ${event.category} · ${event.severity}</p>
    <p>${event.description}</p>
    <h3>Integrity</h3><${ProofCheck} event=${event} />
    <h3>Metadata</h3><pre>${JSON.stringify(event.metadata ?? {}, null, 2)}</pre>
    <h3>Whole event</h3><pre>${JSON.stringify(event, null, 2)}</pre>
  </aside>`;
}

function EventTable({ events, onOpen }) {
  return html`<table aria-label="Events"><thead><tr><th>Time</th><th>Type</th><th>Category</th><th>Severity</th><th>Description</th><th>Source</th></tr></thead>
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
  const { data, error } = useLoad(() => api(`/audit/events?${q}`), [q.toString()]);
  const page = (o) => { const p = new URLSearchParams(params); p.set('offset', String(o)); go('events', p); };
  return html`<section aria-label="Events view">
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
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  const filter = filterOnly(params);
  useEffect(() => {
    const ctl = new AbortController();
    setEvents([]);
    stream(`/audit/events/stream?${filter}`, (type, data) => {
      if (type === 'message' && !pausedRef.current) setEvents((list) => [data, ...list].slice(0, 500));
    }, ctl.signal).catch((e) => e.name !== 'AbortError' && setError(e));
    return () => ctl.abort();
  }, [filter.toString()]);
  const toggle = html`<button type="button" class="secondary" id="pause" aria-pressed=${paused} onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>`;
  return html`<section aria-label="Live tail">
    <${FilterForm} params=${filter} onApply=${(p) => go('live', p)} extra=${toggle} />
    <p role="status">${paused ? 'Paused: new events are not shown' : 'Live: newest first'} · ${events.length} received</p>
    <${Err} e=${error} />
    <${EventTable} events=${events} onOpen=${setOpen} />
    ${open && html`<${Drawer} event=${open} onClose=${() => setOpen(null)} />`}
  </section>`;
}

function Histogram({ hourly }) {
  const ref = useRef();
  useEffect(() => {
    if (!hourly?.length) return undefined;
    const xs = hourly.map((h) => Date.parse(h.hour) / 1000);
    const ys = hourly.map((h) => h.events);
    const plot = new uPlot({
      width: 900, height: 220, title: 'Events per hour, last 24 hours',
      series: [{}, { label: 'events', fill: 'rgba(11,79,156,0.5)', stroke: '#0b4f9c', paths: uPlot.paths.bars({ size: [0.8] }), points: { show: false } }],
      axes: [{}, {}],
      cursor: { drag: { x: false, y: false } },
    }, [xs, ys], ref.current);
    // A click on a bar filters the table to that hour.
    const onClick = () => {
      const i = plot.cursor.idx;
      if (i == null) return;
      const start = new Date(xs[i] * 1000);
      const end = new Date(xs[i] * 1000 + 3_599_999);
      go('events', new URLSearchParams({ start: start.toISOString(), end: end.toISOString() }));
    };
    plot.over.addEventListener('click', onClick);
    return () => plot.destroy();
  }, [JSON.stringify(hourly)]);
  return html`<div id="histogram" ref=${ref} aria-label="Hourly volume histogram (click a bar to see its events)"></div>`;
}

function Counts({ title, entries, param }) {
  return html`<div><h3>${title}</h3><ol>${entries.map(([k, n]) => html`<li>
    <a href=${`#events?${new URLSearchParams({ [param]: k })}`} data-filter=${`${param}=${k}`}>${k}</a> (${n})</li>`)}</ol></div>`;
}

function Stats() {
  const { data, error } = useLoad(() => api('/audit/statistics/detailed'), []);
  if (error) return html`<${Err} e=${error} />`;
  if (!data) return html`<p>loading...</p>`;
  const r = data.recent_activity ?? {};
  return html`<section aria-label="Statistics">
    <div class="cards">
      <div class="card">Total<b id="stat-total">${data.total_events}</b></div>
      <div class="card">Last hour<b>${r.last_hour}</b></div>
      <div class="card">Last 24 hours<b>${r.last_24_hours}</b></div>
      <div class="card">Last week<b>${r.last_week}</b></div>
    </div>
    <${Histogram} hourly=${data.hourly_last_24_hours} />
    <div class="lists">
      <${Counts} title="By category" param="category" entries=${Object.entries(data.events_by_category ?? {})} />
      <${Counts} title="By severity" param="severity" entries=${Object.entries(data.events_by_severity ?? {})} />
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

function Panel({ title, path, render: show }) {
  const { data, error } = useLoad(() => api(path), [path]);
  return html`<section aria-label=${title}><h2>${title}</h2><${Err} e=${error} />${data && (show ? show(data) : html`<pre>${JSON.stringify(data, null, 2)}</pre>`)}</section>`;
}

function Alerts() {
  const [firings, setFirings] = useState({});
  return html`<${Panel} title="Alert rules" path="/audit/alerts" render=${(d) => html`<table><thead><tr><th>Name</th><th>Event types</th><th>Threshold</th><th>Window (s)</th><th>Enabled</th><th>Silences</th><th>Firings</th></tr></thead>
    <tbody>${d.alerts.map((a) => html`<tr><td>${a.alert_name}</td><td>${(a.event_types ?? []).join(', ')}</td><td>${a.threshold}</td><td>${a.time_window}</td><td>${String(a.enabled)}</td><td>${(a.silences ?? []).map((x) => html`<div><${Time} iso=${x.start} /> to <${Time} iso=${x.end} />: ${x.reason}</div>`)}</td>
      <td><button class="secondary" onClick=${async () => setFirings({ ...firings, [a.id]: await api(`/audit/alerts/${a.id}/firings?limit=20`) })}>Show</button>
      ${firings[a.id] && html`<pre>${JSON.stringify(firings[a.id], null, 2)}</pre>`}</td></tr>`)}</tbody></table>`} />`;
}

function Retention() {
  return html`<${Panel} title="Retention policy and state" path="/audit/retention" />
    <${Panel} title="Archives" path="/audit/archives" />
    <${Panel} title="Legal holds" path="/audit/legal-holds" />`;
}

function Integrations() {
  return html`<${Panel} title="SIEM integrations" path="/audit/integrations" render=${(d) => html`<table><thead><tr><th>Name</th><th>Format</th><th>State</th><th>Sent</th><th>Lag</th><th>Last error</th></tr></thead>
    <tbody>${d.integrations.map((i) => html`<tr><td>${i.name}</td><td>${i.format}</td><td>${i.health?.state}</td><td>${i.health?.sent}</td><td>${i.health?.lag_events}</td><td>${i.health?.last_error ?? ''}</td></tr>`)}</tbody></table>`} />`;
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
  return html`<${Panel} title="Latest checkpoint" path="/audit/integrity/checkpoint" />
    <form class="filters" onSubmit=${verify} aria-label="Verify a range">
      <label>From (RFC 3339)<input value=${from} onInput=${(e) => setFrom(e.target.value)} /></label>
      <label>To (RFC 3339)<input value=${to} onInput=${(e) => setTo(e.target.value)} /></label>
      <button type="submit">Verify range</button>
    </form><${Err} e=${error} />${result && html`<p class=${result.ok ? 'verified' : 'failed'}>${result.ok ? 'ok' : 'mismatch'}: ${result.leaves_checked} leaves checked</p><pre>${JSON.stringify(result, null, 2)}</pre>`}`;
}

const Status = () => html`<${Panel} title="Status" path="/audit/status" />`;

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
  return html`<header><h1>HOMEPOT Audit</h1>
    <nav aria-label="Views">${VIEWS.map(([v, label]) => html`<a href=${`#${v}${carry && ['events', 'live', 'exports'].includes(v) ? `?${carry}` : ''}`} aria-current=${v === view ? 'page' : undefined}>${label}</a>`)}</nav>
    <button class="secondary" onClick=${() => { setKey(null); setSignedIn(false); }}>Sign out</button></header>
    <main><${body} params=${params} key=${view} /></main>`;
}

render(html`<${App} />`, document.getElementById('app'));

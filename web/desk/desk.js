// The agent desk. No framework and no build step, like the customer's page: it draws what the
// desk API returns with textContent only, and follows an open session over a websocket that
// resumes from the last event it saw.
'use strict';

const $ = (id) => document.getElementById(id);
const state = { me: null, open: null, seq: 0, socket: null, retry: null, timers: [] };

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// A text from a screen: a string, or pieces of one where money and dates are typed.
function plain(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(plain).join('');
  if (typeof v !== 'object') return '';
  if (v.money) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency: v.money.currency || 'USD' }).format(Number(v.money.amount));
    } catch (_) { return `${v.money.amount} ${v.money.currency || ''}`.trim(); }
  }
  if (v.date || v.day) return String(v.date || v.day);
  if ('text' in v) return plain(v.text);
  return '';
}

function say(message) { $('alert').textContent = message || ''; }

async function api(path, options = {}) {
  const init = { credentials: 'same-origin', headers: {}, ...options };
  if (init.body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(init.body);
  }
  const res = await fetch(path, init);
  let body = null;
  if (res.status !== 204) body = await res.json().catch(() => null);
  if (res.status === 401 && path !== '/desk/api/sign-in') signedOut();
  return { ok: res.ok, status: res.status, body };
}

function signedOut() {
  state.me = null;
  closeSession();
  state.timers.forEach(clearInterval);
  state.timers = [];
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  $('sign-out').hidden = true;
  $('who').textContent = '';
}

function signedIn(me) {
  state.me = me;
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('sign-out').hidden = false;
  $('who').textContent = `${me.name}, ${me.team} (${me.role})`;
  const supervisor = me.role === 'supervisor';
  $('supervisor').hidden = !supervisor;
  $('actions').hidden = supervisor;
  refreshQueue();
  state.timers.push(setInterval(refreshQueue, 2000));
  if (supervisor) {
    refreshLive();
    state.timers.push(setInterval(refreshLive, 5000));
  }
  $('title').focus();
}

async function refreshQueue() {
  const res = await api('/desk/api/queue');
  if (!res.ok || !res.body) return;
  const list = $('queue');
  list.replaceChildren();
  for (const w of res.body.queue) {
    const li = el('li');
    const b = el('button', `${w.customer} — ${w.reason}, waiting ${w.waiting_secs} s`, 'open');
    b.type = 'button';
    b.dataset.session = w.id;
    b.addEventListener('click', () => openSession(w.id));
    li.append(b);
    list.append(li);
  }
  $('queue-empty').hidden = res.body.queue.length > 0;
}

async function refreshLive() {
  const [live, audit] = await Promise.all([api('/desk/api/live'), api('/desk/api/audit')]);
  if (live.ok && live.body) {
    const rows = $('live').tBodies[0];
    rows.replaceChildren();
    for (const s of live.body.sessions) {
      const tr = el('tr');
      const name = el('td');
      const b = el('button', s.customer, 'open');
      b.type = 'button';
      b.addEventListener('click', () => openSession(s.id));
      name.append(b);
      tr.append(name, el('td', s.team), el('td', s.state), el('td', s.call || '—'),
        el('td', s.page.opened ? (s.page.screen || 'open') : 'not open'), el('td', s.taken_by || '—'));
      rows.append(tr);
    }
    $('counts').textContent = Object.entries(live.body.counts).map(([k, v]) => `${k}: ${v}`).join(' · ') || 'No live sessions.';
  }
  if (audit.ok && audit.body) {
    const list = $('audit');
    list.replaceChildren();
    for (const a of audit.body.audit.slice(0, 50)) {
      const when = new Date(a.at).toLocaleTimeString();
      list.append(el('li', `${when} ${a.agent} ${a.action}${a.session ? ' · session ' + a.session.slice(0, 8) : ''}`));
    }
  }
}

function closeSession() {
  if (state.socket) { state.socket.onclose = null; state.socket.close(); }
  state.socket = null;
  clearTimeout(state.retry);
  state.open = null;
  state.seq = 0;
  $('session').hidden = true;
}

async function openSession(id) {
  closeSession();
  const res = await api(`/desk/api/sessions/${id}`);
  if (!res.ok) { say(res.status === 404 ? 'That session is not yours to see.' : 'Could not open the session.'); return; }
  say('');
  state.open = id;
  draw(res.body);
  $('timeline').replaceChildren();
  state.seq = 0;
  follow(id);
  $('session').hidden = false;
  $('session-title').focus();
}

function draw(s) {
  $('session-title').textContent = s.customer.name;
  const facts = $('facts');
  facts.replaceChildren();
  const verified = (s.events || []).some((e) => e.event.kind === 'verified');
  const rows = [
    ['Phone', s.customer.phone],
    ['Card', s.card ? `${s.card.brand} ${s.card.masked}` : '—'],
    ['Verified', verified ? 'yes, on the call' : 'not yet'],
    ['Team', s.team],
    ['Call', s.call ? `${s.call.status}, ${s.call.state}` : 'none'],
    ['Decision', s.decision ? `${s.decision.decision} (${s.decision.by})` : 'none yet'],
    ['Taken by', s.taken_by || 'nobody'],
  ];
  for (const [k, v] of rows) facts.append(el('dt', k), el('dd', v));
  const mirror = $('page');
  mirror.replaceChildren();
  const screen = s.page && s.page.screen;
  if (!s.page || !s.page.opened) mirror.append(el('p', 'The page is not open.', 'muted'));
  if (screen) {
    mirror.append(el('h4', plain(screen.title)));
    for (const c of screen.components || []) {
      const text = plain(c.text) || plain(c.title) || plain(c.label) || plain(c.submit) || '';
      if (text) mirror.append(el('p', text));
      for (const item of c.items || []) mirror.append(el('p', `${plain(item.label || item.title)}: ${plain(item.value)}`, 'small'));
      if (c.approve) mirror.append(el('p', `[${plain(c.approve)}] [${plain(c.decline)}]`));
    }
  }
  const cases = $('cases');
  cases.replaceChildren();
  for (const c of s.cases || []) cases.append(el('li', `${c.note} — promised: ${c.expectation}`));
  if (!cases.children.length) cases.append(el('li', 'None.', 'muted'));
  const history = $('history');
  history.replaceChildren();
  for (const h of s.history || []) history.append(el('li', `${h.at || ''} ${plain(h.summary || h.headline || h.kind || '')}`));
  if (!history.children.length) history.append(el('li', 'Nothing earlier.', 'muted'));
  // A redraw (any event brings one) keeps the screen the agent has chosen.
  const select = $('screen-name');
  const chosen = select.value;
  select.replaceChildren();
  for (const name of s.screens || []) {
    const o = el('option', name);
    o.value = name;
    select.append(o);
  }
  if ((s.screens || []).includes(chosen)) select.value = chosen;
  $('screen-form').hidden = !(s.screens || []).length;
}

function line(e) {
  const k = e.event;
  switch (k.kind) {
    case 'said': return `IVR: ${k.text}`;
    case 'digits': return `Pressed ${k.digits}`;
    case 'speech_heard': return `Said "${k.text}"`;
    case 'decided': return `Decided: ${k.decision} (${k.by})`;
    case 'agent_requested': return `Asked for a person (${k.by})`;
    case 'agent_joined': return `${k.name} joined`;
    case 'case_opened': return `Case: ${k.note} — promised: ${k.expectation}`;
    case 'sms_sent': return `Texted: ${k.text}`;
    case 'sms_received': return `Texted us: ${k.text}`;
    case 'screen_shown': return `Page shows ${k.screen}`;
    case 'page_action': return `Tapped ${k.name}`;
    case 'page_submit': return `Answered ${k.form}`;
    case 'desk_action': return `${k.agent} at the desk: ${k.action}${k.reason ? ` (${k.reason})` : ''}`;
    case 'call_ended': return `Call ended (${k.status})`;
    case 'session_closed': return `Session closed (${k.reason})`;
    default: return k.kind.replaceAll('_', ' ');
  }
}

const REDRAW = new Set(['decided', 'agent_joined', 'screen_shown', 'case_opened', 'page_opened', 'call_ended', 'session_closed', 'verified', 'desk_action']);

function follow(id) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${scheme}://${location.host}/desk/api/sessions/${id}/ws?after=${state.seq}`);
  state.socket = ws;
  ws.onmessage = (m) => {
    const msg = JSON.parse(m.data);
    if (msg.type !== 'event' || msg.event.seq <= state.seq) return;
    state.seq = msg.event.seq;
    const li = el('li', `${new Date(msg.event.at).toLocaleTimeString()} ${line(msg.event)}`);
    li.dataset.kind = msg.event.event.kind;
    $('timeline').append(li);
    if (REDRAW.has(msg.event.event.kind)) redraw(id);
  };
  // A dropped socket comes back from the last event it saw: nothing missed, nothing twice.
  ws.onclose = () => {
    if (state.open === id) state.retry = setTimeout(() => follow(id), 1000);
  };
}

let redrawing = null;
function redraw(id) {
  clearTimeout(redrawing);
  redrawing = setTimeout(async () => {
    const res = await api(`/desk/api/sessions/${id}`);
    if (res.ok && state.open === id) draw(res.body);
  }, 100);
}

async function act(path, body) {
  const res = await api(`/desk/api/sessions/${state.open}/${path}`, { method: 'POST', body });
  $('action-result').textContent = res.ok ? 'Done.' : ((res.body && res.body.error && res.body.error.message) || 'Not done.');
  // What the action changed shows at once; the queue drops a session taken.
  if (res.ok) refreshQueue();
  return res.ok;
}

document.addEventListener('DOMContentLoaded', async () => {
  $('sign-in').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const res = await api('/desk/api/sign-in', { method: 'POST', body: { login: $('login').value, password: $('password').value } });
    $('password').value = '';
    if (res.ok) { say(''); signedIn(res.body); } else {
      say(res.status === 429 ? 'Too many wrong passwords: try again in 15 minutes.' : 'That login and password do not match.');
    }
  });
  $('sign-out').addEventListener('click', async () => {
    await api('/desk/api/sign-out', { method: 'POST' });
    signedOut();
  });
  $('take').addEventListener('click', () => act('take'));
  $('end').addEventListener('click', () => act('end'));
  $('text-link').addEventListener('click', () => act('text'));
  $('decide').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const decision = ev.submitter ? ev.submitter.value : 'approve';
    if (await act('decision', { decision, reason: $('reason').value })) $('reason').value = '';
  });
  $('case').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (await act('cases', { note: $('note').value, expectation: $('expectation').value })) {
      $('note').value = '';
      $('expectation').value = '';
    }
  });
  $('screen-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    act('screen', { screen: $('screen-name').value });
  });
  const me = await api('/desk/api/me');
  if (me.ok) signedIn(me.body); else signedOut();
});

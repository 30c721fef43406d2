// The session page: draws the screen the script names, follows the session live over the
// websocket and sends what the customer does there. It has no wording of its own beyond the
// page's fixed strings below; data is only ever written with textContent, never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const make = (tag, cls, text) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const sessionPath = location.pathname.replace(/\/$/, '');
  const WORDS = {
    en: {
      live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', callEnded: 'Call ended',
      ended: 'This call has ended. You can close this page.', loading: 'Loading…', onCall: 'On the call',
      offline: "You're offline for a moment. Try again when the page says Live.",
      invalidLink: 'This link is no longer valid on this device.', problem: 'There is a problem',
      error: 'Error: ', sent: 'Sent. Thank you.', movedOn: 'The call has moved on.',
      person: 'Connecting you with a representative on the call.',
      approved: 'Approved', declined: 'Declined',
      stale_screen: 'This page had moved on, so nothing was sent. Here is the latest.',
      not_offered: "That can't be done on this page any more.",
      unknown_field: "That form doesn't match this page, so nothing was sent. Reload the page.",
      too_long: 'An answer is too long, so nothing was sent.',
      invalid: 'Check the answers below.',
      already_answered: 'That question was already answered, so nothing was changed.',
      session_closed: 'This session has ended, so nothing was changed.',
      unavailable: "We couldn't record that just now. Nothing was changed; try again.",
      unconfirmed: "We couldn't confirm that just now. If it went through, this page will show it in a moment.",
      by: { web: ' on this page', voice: ' on the call', sms: ' by text message', api: ' by the bank' },
      log: {
        call_started: 'Call connected', said: 'IVR: ', digits: 'You pressed ', speech_heard: 'You said: ',
        verified: 'Identity confirmed', verify_failed: "Details didn't match", link_sent: 'Link sent by text message',
        page_opened: 'Page opened', sms_received: 'You texted: ', sms_sent: 'Text message sent',
        agent_requested: 'You asked to talk to someone', agent_joined: ' is with you', case_opened: 'Noted: ',
        transferred: 'Transferring to a representative', call_ended: 'Call ended', page_action: 'You tapped a button',
        page_submit: 'Answer sent',
      },
    },
    es: {
      live: 'En vivo', connecting: 'Conectando…', reconnecting: 'Reconectando…', callEnded: 'Llamada terminada',
      ended: 'Esta llamada terminó. Puede cerrar esta página.', loading: 'Cargando…', onCall: 'En la llamada',
      offline: 'Está sin conexión por un momento. Inténtelo de nuevo cuando la página diga En vivo.',
      invalidLink: 'Este enlace ya no funciona en este dispositivo.', problem: 'Hay un problema',
      error: 'Error: ', sent: 'Enviado. Gracias.', movedOn: 'La llamada avanzó.',
      person: 'Le estamos comunicando con un representante en la llamada.',
      approved: 'Aprobado', declined: 'Rechazado',
      stale_screen: 'Esta página había cambiado, así que no se envió nada. Esta es la más reciente.',
      not_offered: 'Eso ya no se puede hacer en esta página.',
      unknown_field: 'Ese formulario no coincide con esta página, así que no se envió nada. Vuelva a cargar la página.',
      too_long: 'Una respuesta es demasiado larga, así que no se envió nada.',
      invalid: 'Revise las respuestas de abajo.',
      already_answered: 'Esa pregunta ya tenía respuesta, así que no se cambió nada.',
      session_closed: 'Esta sesión terminó, así que no se cambió nada.',
      unavailable: 'No pudimos registrarlo en este momento. No se cambió nada; inténtelo de nuevo.',
      unconfirmed: 'No pudimos confirmarlo en este momento. Si se registró, esta página lo mostrará en un momento.',
      by: { web: ' en esta página', voice: ' en la llamada', sms: ' por mensaje de texto', api: ' por el banco' },
      log: {
        call_started: 'Llamada conectada', said: 'IVR: ', digits: 'Usted marcó ', speech_heard: 'Usted dijo: ',
        verified: 'Identidad confirmada', verify_failed: 'Los datos no coinciden', link_sent: 'Enlace enviado por mensaje de texto',
        page_opened: 'Página abierta', sms_received: 'Usted escribió: ', sms_sent: 'Mensaje de texto enviado',
        agent_requested: 'Pidió hablar con alguien', agent_joined: ' está con usted', case_opened: 'Anotado: ',
        transferred: 'Transfiriendo a un representante', call_ended: 'Llamada terminada', page_action: 'Tocó un botón',
        page_submit: 'Respuesta enviada',
      },
    },
  };
  const MAX_LOG = 20;

  let lang = 'en';
  let w = WORDS.en;
  let lastSeq = 0;
  let socket = null;
  let backoff = 250;
  let closedForGood = false;
  // Until the socket's snapshot says otherwise, nothing on the page can act.
  let session = { decision: null, status: 'connecting', agent_requested: false };
  let screen = null;
  let pending = null;

  const intlTag = () => (lang === 'es' ? 'es-US' : 'en-US');

  // A script text: a string, or pieces where money and dates are formatted here.
  function txt(v) {
    if (typeof v === 'string') return v;
    if (!Array.isArray(v)) return '';
    return v.map((p) => {
      if (typeof p === 'string') return p;
      try {
        if (p.money) return new Intl.NumberFormat(intlTag(), { style: 'currency', currency: p.money.currency }).format(Number(p.money.amount));
        if (p.date) return new Intl.DateTimeFormat(intlTag(), { weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(new Date(p.date));
        if (p.day) return new Intl.DateTimeFormat(intlTag(), { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(p.day + 'T00:00:00Z'));
      } catch (_) { /* fall through to the raw value */ }
      return p.money ? p.money.amount + ' ' + p.money.currency : (p.date || p.day || '');
    }).join('');
  }

  function send(msg) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      $('alert').textContent = w.offline;
      return false;
    }
    $('alert').textContent = '';
    socket.send(JSON.stringify(msg));
    return true;
  }

  // One function per component; each returns its element.
  const DRAW = {
    heading: (c) => make('h2', null, txt(c.text)),
    text: (c) => make('p', 'hint', txt(c.text)),
    details: (c) => pairs(c.items),
    list: (c) => {
      if (!c.items || !c.items.length) return make('p', 'hint', txt(c.empty));
      const ul = make('ul', 'items');
      for (const item of c.items) {
        const li = make('li', 'item');
        li.append(make('span', 'item-title', txt(item.title)));
        if (item.value) li.append(make('span', 'item-value', txt(item.value)));
        if (item.fields && item.fields.length) li.append(pairs(item.fields, 'meta'));
        ul.append(li);
      }
      return ul;
    },
    notice: (c) => {
      const box = make('div', 'box tone-' + c.tone);
      box.setAttribute('role', 'region');
      if (c.title) {
        const h = make('h2', null, txt(c.title));
        h.id = (c.id || 'notice') + '-title';
        box.setAttribute('aria-labelledby', h.id);
        box.append(h);
      } else {
        box.setAttribute('aria-label', txt(c.text));
      }
      box.append(make('p', null, txt(c.text)));
      return box;
    },
    image: (c) => {
      const img = make('img', 'picture');
      img.alt = txt(c.alt);
      if (/^https:\/\//.test(c.src)) img.src = c.src;
      return img;
    },
    button: (c) => {
      const b = make('button', c.style === 'primary' ? 'approve' : 'talk', txt(c.label));
      b.type = 'button';
      if (c.request === 'agent') {
        b.disabled = session.agent_requested || session.status !== 'open';
        b.dataset.request = 'agent';
        b.addEventListener('click', () => send({ type: 'talk_to_someone' }));
      } else {
        b.dataset.action = c.action;
        b.addEventListener('click', () => {
          if (send({ type: 'action', screen: screen.seq, name: c.action })) b.disabled = true;
        });
      }
      return b;
    },
    decision: (c) => {
      const box = make('div', 'actions');
      for (const [d, cls] of [['approve', 'approve'], ['decline', 'decline']]) {
        const b = make('button', cls, txt(c[d]));
        b.type = 'button';
        b.id = d;
        b.addEventListener('click', () => {
          if (send({ type: 'decide', decision: d })) setDecision(false);
        });
        box.append(b);
      }
      return box;
    },
    form: (c) => drawForm(c),
  };

  function pairs(items, cls) {
    const dl = make('dl', cls || 'details');
    for (const it of items || []) {
      const row = make('div');
      row.append(make('dt', null, txt(it.label)), make('dd', null, txt(it.value)));
      dl.append(row);
    }
    return dl;
  }

  function drawForm(c) {
    const form = make('form', 'form');
    form.noValidate = true;
    form.id = 'form-' + c.id;
    const summary = make('div', 'summary');
    summary.setAttribute('role', 'alert');
    summary.tabIndex = -1;
    summary.hidden = true;
    form.append(summary);
    for (const f of c.fields) form.append(drawField(c.id, f));
    const submit = make('button', 'approve', txt(c.submit));
    submit.type = 'submit';
    form.append(submit);
    const done = make('p', 'outcome');
    done.setAttribute('role', 'status');
    form.append(done);
    if (c.answered) answered(form);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const values = {};
      const errors = {};
      for (const f of c.fields) {
        const v = valueOf(form, c.id, f);
        const problem = check(f, v);
        if (problem) errors[f.name] = problem;
        else if (v !== '') values[f.name] = v;
      }
      showErrors(form, c, errors);
      if (Object.keys(errors).length) return;
      if (send({ type: 'submit', screen: screen.seq, form: c.id, values })) submit.disabled = true;
    });
    return form;
  }

  function answered(form) {
    form.querySelectorAll('input, textarea, button').forEach((el) => { el.disabled = true; });
    form.querySelector('p.outcome').textContent = w.sent;
  }

  const fid = (form, name) => 'f-' + form + '-' + name;

  function drawField(form, f) {
    const id = fid(form, f.name);
    const box = make(f.type === 'choice' ? 'fieldset' : 'div', 'field');
    box.id = id + '-box';
    const label = make(f.type === 'choice' ? 'legend' : 'label', 'label', txt(f.label) + (f.type === 'amount' ? ' (' + f.currency + ')' : ''));
    if (f.type !== 'choice') label.htmlFor = id;
    const describedBy = [];
    const hint = f.hint ? make('p', 'hint', txt(f.hint)) : null;
    if (hint) { hint.id = id + '-hint'; describedBy.push(hint.id); }
    const error = make('p', 'field-error');
    error.id = id + '-error';
    error.hidden = true;
    if (f.type === 'consent') {
      const input = make('input');
      input.type = 'checkbox';
      input.id = id;
      input.name = f.name;
      box.append(input, label);
      if (hint) box.append(hint);
      box.append(error);
      box.classList.add('consent');
      input.setAttribute('aria-describedby', describedBy.join(' '));
      return box;
    }
    box.append(label);
    if (hint) box.append(hint);
    box.append(error);
    if (f.type === 'choice') {
      for (const [i, o] of (f.options || []).entries()) {
        const row = make('div', 'option');
        const input = make('input');
        input.type = 'radio';
        input.name = id;
        input.id = id + '-' + i;
        input.value = o.value;
        const l = make('label', null, o.label);
        l.htmlFor = input.id;
        row.append(input, l);
        box.append(row);
      }
      if (describedBy.length) box.setAttribute('aria-describedby', describedBy.join(' '));
      return box;
    }
    const input = make(f.multiline ? 'textarea' : 'input', 'input');
    if (!f.multiline) input.type = f.type === 'date' ? 'date' : 'text';
    input.id = id;
    input.name = f.name;
    if (f.type === 'digits') { input.inputMode = 'numeric'; input.spellcheck = false; }
    if (f.type === 'amount') input.inputMode = 'decimal';
    if (f.type === 'date') { if (f.min) input.min = f.min; if (f.max) input.max = f.max; }
    if (f.secret) { input.autocomplete = 'off'; input.spellcheck = false; }
    else if (f.autocomplete) input.autocomplete = f.autocomplete;
    if (describedBy.length) input.setAttribute('aria-describedby', describedBy.join(' '));
    box.append(input);
    return box;
  }

  function valueOf(form, formId, f) {
    const id = fid(formId, f.name);
    if (f.type === 'choice') {
      const on = form.querySelector('input[name="' + id + '"]:checked');
      return on ? on.value : '';
    }
    const el = $(id);
    if (f.type === 'consent') return el.checked ? 'yes' : '';
    return el.value.trim();
  }

  function cents(v) {
    const s = v.replace(/[,\s$€£\u00a0]/g, '');
    if (!/^\d{1,12}(\.\d{1,2})?$/.test(s)) return null;
    const [whole, frac = ''] = s.split('.');
    return Number(whole) * 100 + Number((frac + '00').slice(0, 2));
  }

  // The same rules the server applies; it checks again and has the last word.
  function check(f, v) {
    if (v === '') return f.required ? f.missing : null;
    const n = [...v].length;
    switch (f.type) {
      case 'text':
        if ((f.min_length && n < f.min_length) || (f.max_length && n > f.max_length)) return f.invalid;
        if (f.pattern && !new RegExp('^(?:' + f.pattern + ')$', 'u').test(v)) return f.invalid;
        return null;
      case 'digits': {
        const d = v.replace(/[\s-]/g, '');
        if (!/^\d+$/.test(d) || (f.length && d.length !== f.length) || (f.max_length && d.length > f.max_length)) return f.invalid;
        return null;
      }
      case 'amount': {
        const c = cents(v);
        if (c === null || (f.min && c < cents(f.min)) || (f.max && c > cents(f.max))) return f.invalid;
        return null;
      }
      case 'date':
        if (!/^\d{4}-\d{2}-\d{2}$/.test(v) || (f.min && v < f.min) || (f.max && v > f.max)) return f.invalid;
        return null;
      default:
        return null;
    }
  }

  function showErrors(form, c, errors) {
    const summary = form.querySelector('.summary');
    summary.replaceChildren();
    const names = Object.keys(errors);
    for (const f of c.fields) {
      const id = fid(c.id, f.name);
      const err = $(id + '-error');
      const input = $(id) || $(id + '-box');
      const msg = errors[f.name];
      err.hidden = !msg;
      err.replaceChildren();
      $(id + '-box').classList.toggle('has-error', !!msg);
      const by = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== err.id);
      if (msg) {
        err.append(make('span', 'visually-hidden', w.error), document.createTextNode(msg));
        by.push(err.id);
      }
      input.setAttribute('aria-describedby', by.join(' '));
      if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
    }
    summary.hidden = names.length === 0;
    document.title = (names.length ? w.error : '') + (screen ? screen.title : document.title.replace(w.error, ''));
    if (!names.length) return;
    summary.append(make('h2', null, w.problem));
    const ul = make('ul');
    for (const f of c.fields) {
      if (!errors[f.name]) continue;
      const a = make('a', null, errors[f.name]);
      const target = f.type === 'choice' ? fid(c.id, f.name) + '-0' : fid(c.id, f.name);
      a.href = '#' + target;
      a.addEventListener('click', (ev) => { ev.preventDefault(); const t = $(target); if (t) t.focus(); });
      const li = make('li');
      li.append(a);
      ul.append(li);
    }
    summary.append(ul);
    summary.focus();
  }

  function setDecision(enabled) {
    for (const id of ['approve', 'decline']) if ($(id)) $(id).disabled = !enabled;
  }

  function decisionOf() {
    return screen && screen.components.find((c) => c.type === 'decision');
  }

  // Hides controls; focus inside them would fall to the body, so a keyboard or screen-reader
  // user is taken to the outcome that replaced them.
  function hide(els) {
    const focused = document.activeElement;
    const lost = !focused || focused === document.body || els.some((el) => el.contains(focused));
    els.forEach((el) => { el.hidden = true; });
    if (lost) $('outcome').focus();
  }

  function showDecided(decision) {
    const d = decisionOf();
    const said = d ? txt(decision === 'approve' ? d.approved : d.declined) : w[decision === 'approve' ? 'approved' : 'declined'];
    $('outcome').textContent = said;
    const box = $('approve') && $('approve').parentElement;
    if (box) hide([box]);
  }

  function showEnded() {
    if (closedForGood) return;
    closedForGood = true;
    session.status = 'closed';
    $('outcome').textContent = ($('outcome').textContent ? $('outcome').textContent + ' ' : '') + w.ended;
    lock();
    $('link-state').textContent = w.callEnded;
  }

  // Nothing on a screen of a session that is over can act.
  function lock() {
    const controls = [...$('screen').querySelectorAll('.actions, button[data-action], button[data-request]')];
    $('screen').querySelectorAll('input, textarea, button').forEach((el) => { el.disabled = true; });
    hide(controls);
  }

  function setLang(l) {
    lang = WORDS[l] ? l : (l || '').slice(0, 2) in WORDS ? l.slice(0, 2) : 'en';
    w = WORDS[lang];
    document.documentElement.lang = lang;
    $('call-title').textContent = w.onCall;
    if (!closedForGood) $('link-state').textContent = socket && socket.readyState === WebSocket.OPEN ? w.live : w.connecting;
  }

  function drawScreen(s, first) {
    screen = s;
    setLang(s.lang);
    document.title = s.title;
    $('title').textContent = s.title;
    const root = $('screen');
    const parts = s.components.map((c) => {
      const el = (DRAW[c.type] || (() => make('div')))(c);
      if (c.id && c.type !== 'form' && c.type !== 'decision') el.id = c.id;
      if (c.type === 'decision') el.id = c.id || 'actions';
      return el;
    });
    root.replaceChildren(...parts);
    root.hidden = false;
    $('loading').hidden = true;
    applySession();
    if (closedForGood) lock();
    if (!first) $('title').focus();
  }

  // A new screen while the customer types waits until they leave the field (or 10 s).
  function offerScreen(s) {
    const typing = document.activeElement && /^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName)
      && screen && screen.seq !== s.seq;
    if (!typing) return drawScreen(s, false);
    if (!pending) $('outcome').textContent = w.movedOn;
    pending = s;
    const apply = () => { if (pending) { const p = pending; pending = null; drawScreen(p, false); } };
    document.activeElement.addEventListener('blur', apply, { once: true });
    setTimeout(apply, 10000);
  }

  function logCall(text) {
    const log = $('call-log');
    log.append(make('li', null, text));
    while (log.children.length > MAX_LOG) log.firstElementChild.remove();
  }

  function describe(e) {
    const l = w.log;
    switch (e.kind) {
      case 'said': return l.said + e.text;
      case 'digits': return l.digits + e.digits;
      case 'speech_heard': return l.speech_heard + e.text;
      case 'sms_received': return l.sms_received + e.text;
      case 'agent_joined': return e.name + l.agent_joined;
      case 'case_opened': return l.case_opened + e.note + ' (' + e.expectation + ')';
      case 'decided': return w[e.decision === 'approve' ? 'approved' : 'declined'] + (w.by[e.by] || '');
      default: return l[e.kind] || null;
    }
  }

  function onEvent(msg) {
    if (typeof msg.seq !== 'number' || msg.seq <= lastSeq) return;
    lastSeq = msg.seq;
    const e = msg.event || {};
    const said = describe(e);
    if (said) logCall(said);
    if (e.kind === 'decided') {
      session.decision = { decision: e.decision };
      showDecided(e.decision);
    }
    if (e.kind === 'session_closed') showEnded();
    if (e.kind === 'agent_requested') {
      session.agent_requested = true;
      document.querySelectorAll('button[data-request="agent"]').forEach((b) => { b.disabled = true; });
      $('outcome').textContent = w.person;
    }
  }

  // A snapshot without a screen means the one shown is still current.
  function onSnapshot(s) {
    session = s;
    if (s.screen) drawScreen(s.screen, !screen);
    else if (screen) applySession();
    else $('loading').hidden = true;
    if (s.status === 'closed') showEnded();
  }

  // The session's state on the screen already drawn, leaving what the customer typed alone.
  function applySession() {
    if (session.decision) showDecided(session.decision.decision);
    else setDecision(session.status === 'open');
    document.querySelectorAll('button[data-request="agent"]').forEach((b) => {
      b.disabled = session.agent_requested || session.status !== 'open';
    });
  }

  function onRefused(msg) {
    $('alert').textContent = w[msg.reason] || w.not_offered;
    if (msg.reason === 'session_closed') return showEnded();
    const form = msg.form && $('form-' + msg.form);
    const c = form && screen.components.find((x) => x.type === 'form' && x.id === msg.form);
    if (form && msg.reason === 'already_answered') return answered(form);
    if (form) form.querySelector('button[type="submit"]').disabled = false;
    if (form && c && msg.reason === 'invalid') showErrors(form, c, msg.errors || {});
    $('screen').querySelectorAll('button[data-action]').forEach((b) => { b.disabled = false; });
  }

  function onDecisionRefused(msg) {
    $('alert').textContent = msg.message || w.not_offered;
    if (msg.reason === 'already_decided' && msg.decision) {
      session.decision = msg.decision;
      showDecided(msg.decision.decision);
    } else if (msg.reason === 'session_closed') showEnded();
    else setDecision(true);
  }

  function onMessage(raw) {
    let msg;
    try { msg = JSON.parse(raw.data); } catch (_) { return; }
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg.session); break;
      case 'event': onEvent(msg); break;
      case 'screen': offerScreen(msg.screen); break;
      case 'refused': onRefused(msg); break;
      case 'decision_refused': onDecisionRefused(msg); break;
      case 'bye': if (msg.reason === 'session_closed') showEnded(); break;
      case 'error': $('alert').textContent = msg.message || w.not_offered; break;
      default: break;
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const having = screen ? '&screen=' + screen.seq : '';
    socket = new WebSocket(scheme + '://' + location.host + sessionPath + '/ws?after=' + lastSeq + having);
    socket.addEventListener('open', () => { backoff = 250; $('link-state').textContent = w.live; });
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', (ev) => {
      socket = null;
      if (ev.code === 4403 || ev.code === 4404) {
        closedForGood = true;
        $('alert').textContent = w.invalidLink;
      }
      if (closedForGood) return;
      $('link-state').textContent = w.reconnecting;
      const wait = backoff + Math.random() * backoff * 0.3;
      backoff = Math.min(backoff * 2, 5000);
      setTimeout(connect, wait);
    });
  }

  document.addEventListener('DOMContentLoaded', () => {
    // The page arrives with its first screen: shown before the socket is even open.
    try {
      const first = JSON.parse($('first-screen').textContent);
      if (first) drawScreen(first, true);
    } catch (_) { /* the snapshot brings it */ }
    connect();
  });
})();

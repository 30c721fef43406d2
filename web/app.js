// The session page: renders the snapshot, follows the call live over the websocket, sends the
// caller's decision. Data is only ever written with textContent, never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const sessionPath = location.pathname.replace(/\/$/, '');
  const OUTCOME = {
    approve: 'The charges are approved. Your card is ready to use.',
    decline: "The charges are declined. We've blocked this card and a replacement is on its way.",
  };
  const ENDED = 'This call has ended. You can close this page.';
  const MAX_LOG = 20;

  let lastSeq = 0;
  let socket = null;
  let backoff = 250;
  let closedForGood = false;
  let decided = false;

  function money(amount, currency) {
    try {
      return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(amount));
    } catch (_) {
      return amount + ' ' + currency;
    }
  }

  function when(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return new Intl.DateTimeFormat(undefined, {
      weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit',
    }).format(d);
  }

  function line(cls, text) {
    const el = document.createElement('span');
    el.className = cls;
    el.textContent = text;
    return el;
  }

  function renderCharges(charges) {
    const list = $('charges');
    list.replaceChildren();
    for (const c of charges) {
      const item = document.createElement('li');
      item.className = 'charge';
      item.append(
        line('merchant', c.merchant),
        line('amount', money(c.amount, c.currency)),
        line('meta', when(c.at) + ' · ' + c.location + ' · ' + (c.card_present ? 'In person' : 'Online')),
      );
      list.append(item);
    }
  }

  function setButtons(enabled) {
    $('approve').disabled = !enabled;
    $('decline').disabled = !enabled;
  }

  // Hides controls; focus inside them would fall to the page's body, so a keyboard or
  // screen-reader user is taken to the outcome that replaced them.
  function hide(...ids) {
    // A button disabled while it waits for the answer has already dropped its focus to body.
    const focused = document.activeElement;
    const lost = !focused || focused === document.body || ids.some((id) => $(id).contains(focused));
    ids.forEach((id) => { $(id).hidden = true; });
    if (lost) $('outcome').focus();
  }

  function showOutcome(decision) {
    decided = true;
    $('outcome').textContent = OUTCOME[decision] || '';
    hide('actions');
  }

  function showEnded() {
    if (closedForGood) return;
    closedForGood = true;
    $('outcome').textContent = decided ? $('outcome').textContent + ' ' + ENDED : ENDED;
    hide('actions', 'talk');
    $('link-state').textContent = 'Call ended';
  }

  function logCall(text) {
    const log = $('call-log');
    const item = document.createElement('li');
    item.textContent = text;
    log.append(item);
    while (log.children.length > MAX_LOG) log.firstElementChild.remove();
  }

  const BY = { web: ' on this page', voice: ' on the call', sms: ' by text message', api: ' by the bank' };

  const DESCRIBE = {
    call_started: () => 'Call connected',
    said: (e) => 'IVR: ' + e.text,
    digits: (e) => 'You pressed ' + e.digits,
    verified: () => 'Card confirmed',
    verify_failed: () => "Card digits didn't match",
    link_sent: () => 'Link sent by text message',
    page_opened: () => 'Page opened',
    decided: (e) => 'Charges ' + (e.decision === 'approve' ? 'approved' : 'declined') + (BY[e.by] || ''),
    speech_heard: (e) => 'You said: ' + e.text,
    sms_received: (e) => 'You texted: ' + e.text,
    sms_sent: () => 'Text message sent',
    agent_requested: () => 'You asked to talk to someone',
    agent_joined: (e) => e.name + ' is joining the call',
    case_opened: (e) => 'Noted: ' + e.note + ' (' + e.expectation + ')',
    transferred: () => 'Transferring to a representative',
    call_ended: () => 'Call ended',
  };

  function onEvent(msg) {
    if (typeof msg.seq !== 'number' || msg.seq <= lastSeq) return;
    lastSeq = msg.seq;
    const e = msg.event || {};
    const describe = DESCRIBE[e.kind];
    if (describe) logCall(describe(e));
    if (e.kind === 'decided') showOutcome(e.decision);
    if (e.kind === 'session_closed') showEnded();
    if (e.kind === 'agent_requested') {
      $('talk').disabled = true;
      $('outcome').textContent = 'Connecting you with a representative on the call.';
    }
  }

  function onSnapshot(s) {
    $('loading').hidden = true;
    $('case').hidden = false;
    $('card-line').textContent = s.card.brand + ' ' + s.card.masked;
    renderCharges(s.charges || []);
    if (s.decision) showOutcome(s.decision.decision);
    else setButtons(s.status === 'open');
    if (s.status === 'closed') showEnded();
  }

  function onRefused(msg) {
    $('alert').textContent = msg.message || 'That could not be done.';
    if (msg.reason === 'already_decided' && msg.decision) showOutcome(msg.decision.decision);
    else if (msg.reason === 'session_closed') showEnded();
    else setButtons(true);
  }

  function onMessage(raw) {
    let msg;
    try { msg = JSON.parse(raw.data); } catch (_) { return; }
    switch (msg.type) {
      case 'snapshot': onSnapshot(msg.session); break;
      case 'event': onEvent(msg); break;
      case 'decision_refused': onRefused(msg); break;
      case 'bye': if (msg.reason === 'session_closed') showEnded(); break;
      case 'error': $('alert').textContent = msg.message || 'Something went wrong.'; break;
      default: break;
    }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(scheme + '://' + location.host + sessionPath + '/ws?after=' + lastSeq);
    socket.addEventListener('open', () => { backoff = 250; $('link-state').textContent = 'Live'; });
    socket.addEventListener('message', onMessage);
    socket.addEventListener('close', (ev) => {
      socket = null;
      if (ev.code === 4403 || ev.code === 4404) {
        closedForGood = true;
        $('alert').textContent = 'This link is no longer valid on this device.';
      }
      if (closedForGood) return;
      $('link-state').textContent = 'Reconnecting…';
      const wait = backoff + Math.random() * backoff * 0.3;
      backoff = Math.min(backoff * 2, 5000);
      setTimeout(connect, wait);
    });
  }

  function decide(decision) {
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      $('alert').textContent = "You're offline for a moment. Try again when the page says Live.";
      return;
    }
    $('alert').textContent = '';
    setButtons(false);
    socket.send(JSON.stringify({ type: 'decide', decision }));
  }

  document.addEventListener('DOMContentLoaded', () => {
    setButtons(false);
    $('approve').addEventListener('click', () => decide('approve'));
    $('decline').addEventListener('click', () => decide('decline'));
    $('talk').addEventListener('click', () => {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'talk_to_someone' }));
    });
    connect();
  });
})();

/**
 * The shopper's waiting page, served by the edge at `GET /sales/:saleId`: one self-contained HTML document
 * (inline CSS and JS, no external assets, no build step) that joins the line, shows the place in it, refreshes
 * itself at the interval the edge suggests, turns into the checkout step when the shopper is admitted and follows
 * the order to its end. It only speaks the public JSON API (`/api/sales/:saleId/...`, `/api/orders/:orderId`);
 * the session and the queue ticket live in the cookies the join sets, so a reopened tab keeps its place.
 *
 * The page is the same for every shopper of a sale (nothing personal is rendered on the server), so it is
 * cacheable; the only value interpolated on the server is the sale id, HTML-escaped. The script renders with
 * `textContent` only. A Content-Security-Policy allows exactly the inline script and style below (by hash).
 */
import { contentSecurityPolicy } from './content-security-policy.ts'

/** Escapes the five characters that matter in HTML text and attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
}

/** How long a held status request (`?waitMs=`) the page asks for lasts, at most. */
export const PAGE_HOLD_MS = 20_000

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b57d0; --ok: #1a7f37;
  --bad: #b3261e; --bg: #f6f8fa; --card: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
header { background: var(--ink); color: #fff; padding: .75rem 1.25rem; font-weight: 600; letter-spacing: .02em; }
main { max-width: 34rem; margin: 2rem auto; padding: 0 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.5rem 1.75rem;
  box-shadow: 0 1px 3px rgba(0,0,0,.06); }
.sale { margin: 0 0 1.25rem; padding-bottom: 1rem; border-bottom: 1px solid var(--line); }
.sale h1 { font-size: 1.35rem; margin: 0; }
.sale p { margin: .25rem 0 0; color: var(--muted); }
h2 { font-size: 1.2rem; margin: 0 0 .75rem; }
h2:focus { outline: none; }
.big { font-size: 2.6rem; font-weight: 700; line-height: 1.1; margin: .25rem 0 .5rem; font-variant-numeric: tabular-nums; }
.lead { font-size: 1.1rem; margin: .25rem 0; }
.muted { color: var(--muted); font-size: .95rem; }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
button { font: inherit; font-weight: 600; border: 0; border-radius: 8px; padding: .75rem 1.5rem; background: var(--accent);
  color: #fff; cursor: pointer; min-width: 10rem; }
button:focus-visible { outline: 3px solid #f9a825; outline-offset: 2px; }
button[disabled] { background: #8c959f; cursor: progress; }
.timer { font-variant-numeric: tabular-nums; font-weight: 700; }
.bar { height: 6px; background: #eaeef2; border-radius: 3px; overflow: hidden; margin: 1rem 0 .5rem; }
.bar > div { height: 100%; width: 0; background: var(--accent); transition: width .8s ease; }
.notice { border-left: 4px solid var(--bad); padding: .5rem .75rem; background: #fff5f5; margin-top: 1rem; }
footer { max-width: 34rem; margin: 0 auto 2rem; padding: 0 1rem; color: var(--muted); font-size: .85rem; }
.fair { margin-top: 1.25rem; padding-top: 1rem; border-top: 1px solid var(--line); font-size: .95rem;
  color: var(--muted); overflow-wrap: anywhere; }
.fair code { font-size: .95rem; color: var(--ink); }
.fair button { min-width: 0; padding: .3rem .8rem; font-size: .9rem; }
@media (prefers-reduced-motion: reduce) { .bar > div { transition: none; } }
`

/**
 * The page's script. Plain ES2017 so any current browser runs it as is; no template literals (this file is
 * one). Everything shown goes through `textContent`.
 */
const SCRIPT = `
(function () {
  'use strict';
  var app = document.getElementById('app');
  var saleId = app.getAttribute('data-sale');
  var holdMs = Number(app.getAttribute('data-hold-ms')) || 0;
  var api = '/api/sales/' + encodeURIComponent(saleId);
  var prefix = 'floodgate:' + saleId + ':';
  var num = new Intl.NumberFormat('en-US');
  var ticket = null;
  var room = null;
  var clockSkew = 0;
  var countdown = null;
  var current = null;
  var firstPosition = null;
  var publicId = null;

  function store(name, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(prefix + name);
      if (value === null) window.localStorage.removeItem(prefix + name);
      else window.localStorage.setItem(prefix + name, value);
    } catch (e) { /* private mode: the cookies still keep the place */ }
    return null;
  }
  function $(id) { return document.getElementById(id); }
  function say(id, value) { $(id).textContent = value; }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function jitter(ms) { return Math.round(ms * (0.8 + Math.random() * 0.4)); }
  function plural(n, one, many) { return num.format(n) + ' ' + (n === 1 ? one : many); }
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) return plural(seconds, 'second', 'seconds');
    var m = Math.round(seconds / 60);
    if (m < 60) return plural(m, 'minute', 'minutes');
    var h = Math.floor(m / 60);
    return plural(h, 'hour', 'hours') + (m % 60 ? ' ' + plural(m % 60, 'minute', 'minutes') : '');
  }
  function clock(ms) {
    var s = Math.max(0, Math.ceil(ms / 1000));
    var mm = Math.floor(s / 60), ss = s % 60;
    return mm + ':' + (ss < 10 ? '0' : '') + ss;
  }
  function newKey() {
    if (window.crypto && crypto.randomUUID) return 'page-' + crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'page-' + Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function step(name) {
    if (current === name) return;
    current = name;
    app.setAttribute('data-state', name);
    var sections = app.querySelectorAll('[data-step]');
    for (var i = 0; i < sections.length; i++) sections[i].hidden = sections[i].getAttribute('data-step') !== name;
    var heading = app.querySelector('[data-step="' + name + '"] h2');
    if (heading && document.readyState === 'complete') heading.focus();
    if (name !== 'admitted' && countdown) { clearInterval(countdown); countdown = null; }
  }

  function problem(message) {
    var el = $('problem');
    el.textContent = message || '';
    el.hidden = !message;
  }

  /** fetch + JSON, retrying dropped connections, 5xx and 429 (honouring Retry-After) until it gets an answer. */
  function call(method, url, options) {
    options = options || {};
    var headers = { accept: 'application/json' };
    var extra = options.headers || {};
    for (var k in extra) headers[k] = extra[k];
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    var attempt = 0;
    function go() {
      attempt++;
      return fetch(url, {
        method: method, headers: headers, credentials: 'same-origin', cache: 'no-store',
        body: options.body === undefined ? undefined : JSON.stringify(options.body)
      }).then(function (res) {
        var date = Date.parse(res.headers.get('date') || '');
        if (!isNaN(date)) clockSkew = date - Date.now();
        return res.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
          if (res.status === 429 || res.status >= 500) {
            var after = Number(res.headers.get('retry-after'));
            var wait = after > 0 ? after * 1000 : Math.min(10000, 500 * Math.pow(2, attempt));
            problem((body && body.error && body.error.message ? body.error.message + ' ' : '') + 'Trying again in ' + duration(wait / 1000) + '.');
            return sleep(jitter(wait)).then(go);
          }
          problem('');
          return { status: res.status, body: body };
        });
      }, function () {
        var wait = Math.min(10000, 500 * Math.pow(2, attempt));
        problem('Connection lost. Trying again in ' + duration(wait / 1000) + '. You keep your place.');
        return sleep(jitter(wait)).then(go);
      });
    }
    return go();
  }

  function failed(res) {
    var message = res.body && res.body.error ? res.body.error.message : 'Something went wrong (' + res.status + ').';
    step('error');
    say('error-text', message);
  }

  function loadSale() {
    fetch(api, { headers: { accept: 'application/json' }, credentials: 'same-origin' }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (sale) {
      if (!sale) return;
      say('sale-name', sale.name);
      var price = new Intl.NumberFormat('en-US', { style: 'currency', currency: sale.currency || 'USD' }).format(sale.priceCents / 100);
      say('sale-price', price + ' \\u00b7 ' + plural(sale.stock, 'unit', 'units') + ' in this drop');
      say('pay-amount', price);
    }, function () { /* the header is decoration; the line works without it */ });
  }

  function join() {
    step('joining');
    return call('POST', api + '/join').then(function (res) {
      if (res.status !== 200) return failed(res);
      if (res.body.ticket) ticket = res.body.ticket;
      return show(res.body);
    });
  }

  function poll() {
    var headers = ticket ? { 'x-floodgate-ticket': ticket } : {};
    var query = holdMs > 0 ? '?waitMs=' + holdMs : '';
    return call('GET', api + '/status' + query, { headers: headers }).then(function (res) {
      // A ticket the edge no longer accepts (for example after the session cookie was cleared): join afresh.
      if (res.status === 403 || res.status === 404) { ticket = null; return join(); }
      if (res.status !== 200) return failed(res);
      return show(res.body);
    });
  }

  function show(status) {
    room = status;
    if (status.publicId && status.publicId !== publicId) {
      publicId = status.publicId;
      say('public-id', publicId);
      $('fair').hidden = false;
    }
    if (status.state === 'waiting' || status.state === 'not_started') {
      renderWaiting(status);
      return sleep(jitter(Math.max(250, status.refreshMs || 1000))).then(poll);
    }
    if (status.state === 'admitted') return renderAdmitted(status);
    if (status.state === 'sold_out') {
      store('order', null);
      step('sold_out');
      return;
    }
    if (status.state === 'expired') { step('expired'); return; }
    failed({ status: 200, body: { error: { message: 'Unexpected answer from the waiting room.' } } });
  }

  function renderWaiting(s) {
    step('waiting');
    var units = plural(s.unitsLeft, 'unit', 'units') + ' left';
    if (s.ahead === null) {
      var drawn = s.state !== 'not_started';
      say('wait-title', 'You are in the line');
      say('wait-big', drawn ? 'The draw is done' : 'Starts in ' + duration(s.etaSeconds || 0));
      say('wait-lead', 'Everyone who joins before the start gets a place in a fair random draw; ' + units + '.');
      say('wait-eta', drawn
        ? 'Finding your place in it...'
        : 'Keep this page open or come back before the start: your place is kept.');
      $('wait-bar').style.width = '0%';
      return;
    }
    var ahead = s.ahead || 0;
    if (firstPosition === null || s.position > firstPosition) firstPosition = s.position;
    say('wait-title', s.state === 'not_started' ? 'You are in the line: the sale starts soon' : 'You are in the line');
    say('wait-big', ahead === 0 ? 'You are next' : 'No. ' + num.format(s.position) + ' in line');
    say('wait-lead', (ahead === 0 ? 'Nobody' : num.format(ahead)) + ' ahead of you, ' + units);
    say('wait-eta', s.admission === 'queue_all'
      ? 'The line is on hold for a moment: nobody is let in and checkout is paused. Your place is kept.'
      : s.admission === 'paused'
        ? 'Letting people in is paused for a moment: no wait estimate until it resumes. Your place is kept.'
        : s.etaSeconds === null || s.etaSeconds === undefined
          ? 'Estimated wait: working it out.'
          : 'Estimated wait: about ' + duration(s.etaSeconds) + '. Your place is #' + num.format(s.position) + '.');
    var done = firstPosition > 1 ? (firstPosition - s.position) / (firstPosition - 1) : 1;
    $('wait-bar').style.width = Math.round(Math.max(0.03, Math.min(1, done)) * 100) + '%';
  }

  function renderAdmitted(s) {
    var fresh = current !== 'admitted';
    step('admitted');
    if (fresh) { $('pay').disabled = false; say('pay-note', ''); }
    var order = store('order');
    if (order) {
      var saved = JSON.parse(order);
      if (saved.grant === s.grant.slice(-24)) return follow(saved.orderId);
    }
    var tick = function () {
      var left = s.grantExpiresAt - (Date.now() + clockSkew);
      say('pay-timer', clock(left));
      if (left <= 0) {
        clearInterval(countdown);
        countdown = null;
        $('pay').disabled = true;
        say('pay-note', 'Your time is up. Checking whether the unit went to the next shopper...');
        sleep(1500).then(poll);
      }
    };
    tick();
    if (!countdown) countdown = setInterval(tick, 250);
    say('pay-units', plural(s.unitsLeft, 'unit', 'units') + ' left in the drop.');
  }

  /** One Idempotency-Key per grant, kept across retries and reloads: a repeated Pay can never buy twice. */
  function keyFor(grant) {
    var id = grant.slice(-24);
    var saved = store('key');
    if (saved) {
      var parsed = JSON.parse(saved);
      if (parsed.grant === id) return parsed.key;
    }
    var key = newKey();
    store('key', JSON.stringify({ grant: id, key: key }));
    return key;
  }

  function pay() {
    if (!room || room.state !== 'admitted') return;
    var button = $('pay');
    button.disabled = true;
    say('pay-note', 'Paying...');
    var key = keyFor(room.grant);
    call('POST', api + '/redeem', {
      headers: { 'idempotency-key': key },
      body: { token: room.token, grant: room.grant }
    }).then(function (res) {
      if (res.status === 202 || res.status === 200) {
        store('order', JSON.stringify({ grant: room.grant.slice(-24), orderId: res.body.orderId }));
        return follow(res.body.orderId);
      }
      button.disabled = false;
      say('pay-note', res.body && res.body.error ? res.body.error.message : 'Payment was refused (' + res.status + ').');
    });
  }

  function follow(orderId) {
    step('paying');
    say('order-id', 'Order ' + orderId);
    return call('GET', '/api/orders/' + encodeURIComponent(orderId) + '?waitMs=5000').then(function (res) {
      if (res.status !== 200) return failed(res);
      var order = res.body;
      if (order.status === 'pending') return follow(orderId);
      say('result-order', 'Order ' + order.orderId);
      if (order.status === 'confirmed') {
        step('confirmed');
        return;
      }
      store('order', null);
      step('declined');
      say('declined-reason', order.failureReason ? 'Reason: ' + order.failureReason + '.' : '');
    });
  }

  /** The shopper's place in the public fairness proof, and why it is there (anyone can check the same data). */
  function checkPlace() {
    say('place-why', 'Checking...');
    $('place-why').hidden = false;
    call('GET', api + '/fairness/places/' + encodeURIComponent(publicId)).then(function (res) {
      var p = res.body;
      if (res.status !== 200) {
        say('place-why', p && p.error ? p.error.message : 'Could not check (' + res.status + ').');
        return;
      }
      var line = p.shards > 1 ? ' in line ' + (p.shard + 1) + ' of ' + p.shards : '';
      var why;
      if (p.draw && p.draw.key !== null) {
        why = 'You joined before the start: drawn place ' + num.format(p.draw.rank) + ' of ' +
          num.format(p.draw.of) + line + '. Why: sha256(seed + ":" + your public id) gives you ' +
          p.draw.key.toFixed(6) + ', and ' + num.format(p.draw.rank - 1) + ' of the places that joined before ' +
          'the start got a smaller number. Seed ' + p.seed + '; its sha256, ' + p.commitment +
          ', was published before the line opened.';
      } else if (p.draw) {
        why = 'You joined before the start: place ' + num.format(p.draw.rank) + ' of ' + num.format(p.draw.of) + line +
          ', in the order the pre-queue joined.';
      } else if (p.place && p.place.pre) {
        why = 'You joined before the start: your place is drawn at the start from sha256(seed + ":" + ' +
          'your public id). The seed is fixed already: its sha256, ' + p.commitment + ', is public.';
      } else if (p.place) {
        why = 'You joined after the start: first come, first served, place ' + num.format(p.place.seq) + line +
          ', behind the ' + num.format(p.prequeueJoined) + ' places drawn from the pre-queue.';
      } else {
        why = 'No place in line holds this public id now.';
      }
      if (p.admissions.length) why += ' Let in ' + plural(p.admissions.length, 'time', 'times') + '.';
      say('place-why', why + ' The whole line: ' + api + '/fairness');
    });
  }

  $('check-place').addEventListener('click', checkPlace);
  $('pay').addEventListener('click', pay);
  $('rejoin').addEventListener('click', function () { store('order', null); join(); });
  $('retry').addEventListener('click', function () { join(); });
  loadSale();
  join();
})();
`

function html(saleId: string): string {
  const id = escapeHtml(saleId)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>Waiting room · ${id}</title>
<style>${STYLE}</style>
</head>
<body>
<header>Floodgate</header>
<main id="app" data-sale="${id}" data-hold-ms="${PAGE_HOLD_MS}" data-state="joining">
<div class="card">
  <div class="sale">
    <h1 id="sale-name">${id}</h1>
    <p id="sale-price">Flash sale</p>
  </div>
  <div role="status" aria-live="polite">
  <section data-step="joining">
    <h2 tabindex="-1">Joining the line...</h2>
    <p class="muted">Taking your place. Please keep this page open.</p>
  </section>
  <section data-step="waiting" hidden>
    <h2 id="wait-title" tabindex="-1">You are in the line</h2>
    <p id="wait-big" class="big"></p>
    <p id="wait-lead" class="lead"></p>
    <div class="bar" aria-hidden="true"><div id="wait-bar"></div></div>
    <p id="wait-eta" class="muted"></p>
    <p class="muted">This page updates itself. Closing it keeps your place in this browser; please do not open more tabs.</p>
  </section>
  <section data-step="admitted" hidden>
    <h2 tabindex="-1" class="ok">It is your turn</h2>
    <p class="lead">One unit is held for you for <span id="pay-timer" class="timer">--:--</span>.</p>
    <p id="pay-units" class="muted"></p>
    <p><button id="pay" type="button">Pay <span id="pay-amount"></span></button></p>
    <p id="pay-note" class="muted"></p>
  </section>
  <section data-step="paying" hidden>
    <h2 tabindex="-1">Confirming your order...</h2>
    <p id="order-id" class="muted"></p>
    <p class="muted">Your payment is being processed. This takes a few seconds.</p>
  </section>
  <section data-step="confirmed" hidden>
    <h2 tabindex="-1" class="ok">Order confirmed</h2>
    <p class="lead">You got one. Thank you!</p>
    <p id="result-order" class="muted"></p>
  </section>
  <section data-step="declined" hidden>
    <h2 tabindex="-1" class="bad">Payment declined</h2>
    <p class="lead">Your card was not charged. The unit has gone back to the line.</p>
    <p id="declined-reason" class="muted"></p>
  </section>
  <section data-step="sold_out" hidden>
    <h2 tabindex="-1" class="bad">Sold out</h2>
    <p class="lead">Every unit of this drop has been sold. Sorry: nothing more can come back.</p>
    <p class="muted">You can close this page.</p>
  </section>
  <section data-step="expired" hidden>
    <h2 tabindex="-1" class="bad">Your time ran out</h2>
    <p class="lead">The unit held for you went to the next shopper.</p>
    <p><button id="rejoin" type="button">Join the line again</button></p>
  </section>
  <section data-step="error" hidden>
    <h2 tabindex="-1" class="bad">Something went wrong</h2>
    <p id="error-text" class="lead"></p>
    <p><button id="retry" type="button">Try again</button></p>
  </section>
  <p id="problem" class="notice" hidden></p>
  </div>
  <div id="fair" class="fair" hidden>
    <p>Your public id in this sale: <code id="public-id"></code>
      <button id="check-place" type="button">Check my place</button></p>
    <p id="place-why" hidden></p>
  </div>
  <noscript><p class="notice">This waiting room needs JavaScript to keep your place and update itself.</p></noscript>
</div>
</main>
<footer>Sale ${id}. Fair queue: your place cannot be bought or skipped.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`
}

/** CSP: only this page's own inline script and style run; the page only talks to its own origin. */
const policy = contentSecurityPolicy(SCRIPT, STYLE, [
  `connect-src 'self'`,
  `img-src 'self' data:`,
  `base-uri 'none'`,
  `form-action 'self'`,
  `frame-ancestors 'none'`,
])

/** The waiting page of `saleId` (already validated) as a complete response. */
export async function waitingPage(saleId: string): Promise<Response> {
  return new Response(html(saleId), {
    status: 200,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // The same document for every shopper of the sale: nothing personal is in it.
      'cache-control': 'public, max-age=60',
      'content-security-policy': await policy(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      vary: 'accept',
    },
  })
}

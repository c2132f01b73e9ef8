/**
 * `GET /account`: one self-contained page (inline CSS and JS, CSP by hash) for accounts and the everyday cart:
 * sign up, sign in (the guest cart merges), the cart with current prices, checkout through a signed quote, and
 * the order as it settles. It only calls the edge's /api (accounts, cart, orders); tokens stay in sessionStorage.
 */
import { contentSecurityPolicy } from '../pages/content-security-policy.ts'
const STYLE = `
body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:760px;padding:1.5rem;color:#1d2330}
h1{margin:.2rem 0 1rem}section{border:1px solid #d5d9e0;border-radius:8px;padding:1rem;margin:0 0 1rem}
label{display:block;margin:.3rem 0}input{font:inherit;padding:.3rem;margin-left:.4rem}
button{font:inherit;padding:.35rem .9rem;margin:.3rem .3rem 0 0;cursor:pointer}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #eee}
#status{min-height:1.4rem;color:#2d4f9e}.error{color:#b3261e}[hidden]{display:none}
`

const SCRIPT = `
(() => {
  const $ = (id) => document.getElementById(id);
  const store = sessionStorage;
  const say = (text, error) => { $('status').textContent = text; $('status').className = error ? 'error' : ''; };
  const hex = (n) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
  const session = store.getItem('fg-session') || (() => {
    const id = hex(18);
    store.setItem('fg-session', id);
    return id;
  })();
  const money = (cents, currency) =>
    new Intl.NumberFormat('en-US', { style: 'currency', currency: currency || 'USD' }).format(cents / 100);
  async function api(method, path, body, extra) {
    const headers = Object.assign({ 'x-floodgate-session': session }, extra || {});
    const token = store.getItem('fg-access');
    if (token) headers.authorization = 'Bearer ' + token;
    else if (store.getItem('fg-cart')) headers['x-floodgate-cart'] = store.getItem('fg-cart');
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const json = res.status === 204 ? null : await res.json();
    if (!res.ok) throw new Error((json && json.error && json.error.message) || ('HTTP ' + res.status));
    return json;
  }
  function showCart(cart) {
    $('lines').textContent = '';
    for (const line of cart.lines) {
      const row = document.createElement('tr');
      row.dataset.sku = line.sku;
      const price = line.unitPriceCents === null ? '-' : money(line.unitPriceCents, line.currency);
      for (const text of [line.name || line.sku, String(line.quantity), price, line.state]) {
        const cell = document.createElement('td'); cell.textContent = text; row.appendChild(cell);
      }
      $('lines').appendChild(row);
    }
    $('subtotal').textContent = money(cart.subtotalCents, cart.currency);
    $('cart').dataset.lines = String(cart.lines.length);
    $('checkout').disabled = !store.getItem('fg-access') || cart.lines.length === 0;
  }
  function showWho(account) {
    $('who').textContent = account ? 'Signed in as ' + account.email : 'Shopping as a guest';
    document.body.dataset.signedIn = account ? 'yes' : 'no';
    $('logout').hidden = !account;
  }
  async function refreshCart() {
    if (!store.getItem('fg-access') && !store.getItem('fg-cart')) {
      return showCart({ lines: [], subtotalCents: 0, currency: 'USD' });
    }
    showCart(await api('GET', '/api/cart'));
  }
  const guard = (work) => async (event) => {
    event.preventDefault();
    try { await work(); } catch (error) { say(error.message, true); }
  };
  $('signup').addEventListener('submit', guard(async () => {
    const body = { email: $('signup-email').value, password: $('signup-password').value };
    const auth = await api('POST', '/api/auth/register', body);
    // A new account signs in with the form below, so that the guest cart merges into it.
    await api('POST', '/api/auth/logout', { refreshToken: auth.refreshToken });
    say('Account created for ' + auth.account.email + ': sign in to use it');
    document.body.dataset.registered = 'yes';
  }));
  $('add').addEventListener('submit', guard(async () => {
    if (!store.getItem('fg-access') && !store.getItem('fg-cart')) {
      store.setItem('fg-cart', (await api('POST', '/api/cart')).cartId);
    }
    const sku = $('add-sku').value;
    const quantity = Number($('add-quantity').value);
    showCart(await api('PUT', '/api/cart/lines/' + encodeURIComponent(sku), { quantity }));
    say('Added ' + sku);
  }));
  $('login').addEventListener('submit', guard(async () => {
    const cartId = store.getItem('fg-cart');
    const body = { email: $('login-email').value, password: $('login-password').value };
    if (cartId) body.cartId = cartId;
    const auth = await api('POST', '/api/auth/login', body);
    store.setItem('fg-access', auth.accessToken);
    store.setItem('fg-refresh', auth.refreshToken);
    store.removeItem('fg-cart');
    showWho(auth.account);
    if (auth.cart) {
      showCart(auth.cart);
      say('Signed in: your guest cart was merged');
    } else {
      await refreshCart();
      say('Signed in');
    }
  }));
  $('logout').addEventListener('click', guard(async () => {
    await api('POST', '/api/auth/logout', { refreshToken: store.getItem('fg-refresh') });
    store.removeItem('fg-access'); store.removeItem('fg-refresh');
    showWho(null); await refreshCart(); say('Signed out');
  }));
  $('checkout').addEventListener('click', guard(async () => {
    const quote = await api('POST', '/api/cart/quote');
    say('Paying ' + money(quote.totalCents, quote.currency) + '…');
    const key = 'web-' + hex(12);
    const placed = await api('POST', '/api/cart/checkout', { quote: quote.quote }, { 'idempotency-key': key });
    $('order').dataset.orderId = placed.orderId;
    let order;
    for (let i = 0; i < 20; i++) {
      order = await api('GET', '/api/orders/' + placed.orderId + '?waitMs=5000');
      if (order.status !== 'pending') break;
    }
    $('order').dataset.status = order.status;
    $('order').hidden = false;
    $('order-title').textContent = 'Order ' + order.status + ': ' + money(order.amountCents, order.currency);
    $('order-lines').textContent = '';
    for (const line of order.lines || []) {
      const item = document.createElement('li');
      item.textContent = line.quantity + ' × ' + line.name + ' at ' + money(line.unitPriceCents, line.currency);
      $('order-lines').appendChild(item);
    }
    const confirmed = order.status === 'confirmed';
    say(confirmed ? 'Thank you: order confirmed' : 'Order ' + order.status, !confirmed);
    await refreshCart();
  }));
  showWho(null);
  refreshCart().catch((error) => say(error.message, true));
})();
`

/** Only this page's inline script and style run, and it talks to its own origin only. */
const policy = contentSecurityPolicy(SCRIPT, STYLE, [
  `connect-src 'self'`,
  `base-uri 'none'`,
  `form-action 'none'`,
  `frame-ancestors 'none'`,
])

const HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Your account · Floodgate</title><style>${STYLE}</style></head>
<body>
<h1>Your account and cart</h1>
<p id="who"></p><button id="logout" type="button" hidden>Sign out</button>
<p id="status" role="status" aria-live="polite"></p>
<section><h2>Create an account</h2>
<form id="signup"><label>Email<input id="signup-email" type="email" autocomplete="email" required></label>
<label>Password<input id="signup-password" type="password" autocomplete="new-password" minlength="10" required></label>
<button type="submit">Sign up</button></form></section>
<section><h2>Sign in</h2>
<form id="login"><label>Email<input id="login-email" type="email" autocomplete="email" required></label>
<label>Password<input id="login-password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form></section>
<section id="cart"><h2>Cart</h2>
<form id="add"><label>SKU<input id="add-sku" required></label>
<label>Quantity<input id="add-quantity" type="number" min="1" max="10" value="1" required></label>
<button type="submit">Add to cart</button></form>
<table><thead><tr><th>Item</th><th>Qty</th><th>Price</th><th>Availability</th></tr></thead>
<tbody id="lines"></tbody></table>
<p>Subtotal: <strong id="subtotal"></strong></p>
<button id="checkout" type="button" disabled>Check out</button></section>
<section id="order" hidden><h2 id="order-title"></h2><ul id="order-lines"></ul></section>
<script>${SCRIPT}</script>
</body></html>`

/** The page, with its security headers; never cached (it is the same for everyone, but cheap). */
export async function accountPage(): Promise<Response> {
  return new Response(HTML, {
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': await policy(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
  })
}

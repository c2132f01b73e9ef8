/**
 * The storefront's server-rendered pages (home, category, product, search), rendered at the edge from cached
 * catalog data. Same rules as the waiting page: every value interpolated is HTML-escaped, one inline style and
 * one inline script allowed by hash (CSP), no external assets. The pages carry no stock: the script fills every
 * `[data-sku]` element from `/api/availability` (live, apart from the cache) and says so plainly when it cannot.
 */
import type {
  CategoryNode,
  DropSummary,
  FacetValue,
  Product,
  ProductListResponse,
  ProductSummary,
  SearchQuery,
  SearchResponse,
} from '../../contracts/index.ts'
import { escapeHtml as esc } from '../pages/waiting-page.ts'
import type { CacheOutcome } from './page-cache.ts'
import { contentSecurityPolicy } from '../pages/content-security-policy.ts'

/** How often a product page with a drop asks for availability again (the frontier moves about once a second). */
export const DROP_POLL_MS = 5_000

const STYLE = `
:root { color-scheme: light; --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b57d0; --ok: #1a7f37;
  --warn: #9a6700; --bad: #b3261e; --bg: #f6f8fa; --card: #ffffff; --sale: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--ink); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f9a825;
  outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem 1rem; z-index: 2; }
.skip:focus { left: .5rem; }
header.site { background: var(--ink); color: #fff; }
header.site .bar { max-width: 72rem; margin: 0 auto; padding: .75rem 1rem; display: flex; gap: 1rem;
  align-items: center; flex-wrap: wrap; }
header.site a.brand { color: #fff; text-decoration: none; font-weight: 700; letter-spacing: .02em;
  font-size: 1.15rem; }
form.search { flex: 1; display: flex; gap: .5rem; min-width: 16rem; }
form.search input { flex: 1; font: inherit; padding: .5rem .75rem; border-radius: 8px;
  border: 1px solid var(--line); }
button, .button { font: inherit; font-weight: 600; border: 0; border-radius: 8px; padding: .5rem 1.1rem;
  background: var(--accent);
  color: #fff; cursor: pointer; text-decoration: none; display: inline-block; }
nav.departments { background: #2b3138; }
nav.departments ul { max-width: 72rem; margin: 0 auto; padding: .4rem 1rem; list-style: none; display: flex;
  gap: 1.1rem; flex-wrap: wrap; }
nav.departments a { color: #e6edf3; text-decoration: none; font-size: .95rem; }
nav.departments a:hover { text-decoration: underline; }
main { max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem; }
h1 { font-size: 1.7rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 1.5rem 0 .75rem; }
.crumbs ol { list-style: none; padding: 0; margin: 0 0 .5rem; display: flex; gap: .4rem; flex-wrap: wrap;
  color: var(--muted); font-size: .9rem; }
.crumbs li + li::before { content: "/"; margin-right: .4rem; color: var(--line); }
.grid { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(12.5rem, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; overflow: hidden;
  display: flex; flex-direction: column; height: 100%; }
.card a.title { color: var(--ink); text-decoration: none; font-weight: 600; }
.card a.title:hover { text-decoration: underline; }
.card img { width: 100%; aspect-ratio: 1 / 1; object-fit: cover; background: #eaeef2; display: block; }
.card .body { padding: .75rem .9rem 1rem; display: flex; flex-direction: column; gap: .25rem; flex: 1; }
.brand-name { color: var(--muted); font-size: .85rem; }
.price { font-weight: 700; font-variant-numeric: tabular-nums; }
.price del { color: var(--muted); font-weight: 400; margin-left: .35rem; }
.price .sale { color: var(--sale); }
.stock { font-size: .9rem; color: var(--muted); min-height: 1.35em; }
.stock[data-state="in_stock"] { color: var(--ok); }
.stock[data-state="low_stock"], .stock[data-state="drop_scheduled"],
  .stock[data-state="drop_live"] { color: var(--warn); }
.stock[data-state="out_of_stock"], .stock[data-state="sold_out"],
  .stock[data-state="unknown_sku"] { color: var(--bad); }
.layout { display: grid; grid-template-columns: 15rem 1fr; gap: 1.5rem; }
@media (max-width: 48rem) { .layout { grid-template-columns: 1fr; } }
aside.filters { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1rem;
  align-self: start; }
aside.filters h2 { font-size: 1rem; margin: .75rem 0 .4rem; }
aside.filters h2:first-child { margin-top: 0; }
aside.filters ul { list-style: none; padding: 0; margin: 0; }
aside.filters li { margin: .15rem 0; }
aside.filters label { display: block; margin: .3rem 0; }
aside.filters input[type=number], aside.filters select { font: inherit; width: 100%; padding: .35rem .5rem;
  border: 1px solid var(--line); border-radius: 6px; }
.facet-count { color: var(--muted); font-size: .85rem; }
a[aria-current="true"] { font-weight: 700; }
.toolbar { display: flex; justify-content: space-between; align-items: baseline; gap: 1rem; flex-wrap: wrap;
  margin-bottom: .75rem; color: var(--muted); }
.pager { margin: 1.5rem 0; }
.drop { background: #fff8e1; border: 1px solid #f9a825; border-radius: 12px; padding: 1rem 1.25rem; margin: 1rem 0; }
.drop strong { font-size: 1.05rem; }
.drops { list-style: none; padding: 0; margin: 0; display: grid; gap: .75rem;
  grid-template-columns: repeat(auto-fill, minmax(18rem, 1fr)); }
.product { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 2rem; }
@media (max-width: 48rem) { .product { grid-template-columns: 1fr; } }
.gallery img { width: 100%; height: auto; border-radius: 12px; border: 1px solid var(--line); background: #eaeef2; }
.thumbs { display: flex; gap: .5rem; margin-top: .5rem; }
.thumbs img { width: 4.5rem; height: auto; border-radius: 8px; }
table.variants { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line);
  border-radius: 12px; overflow: hidden; }
table.variants th, table.variants td { text-align: left; padding: .55rem .75rem;
  border-bottom: 1px solid var(--line); }
table.variants th { background: #f0f3f6; font-size: .9rem; }
.departments-grid { list-style: none; padding: 0; margin: 0; display: grid; gap: 1rem;
  grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); }
.departments-grid > li { background: var(--card); border: 1px solid var(--line); border-radius: 12px;
  padding: .9rem 1.1rem; }
.departments-grid ul { list-style: none; padding: 0; margin: .4rem 0 0; display: flex; flex-wrap: wrap;
  gap: .15rem .9rem; font-size: .92rem; }
dl.details { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.details dt { color: var(--muted); }
dl.details dd { margin: 0; }
.notice { border-left: 4px solid var(--bad); padding: .5rem .75rem; background: #fff5f5; }
.didyoumean { font-size: 1.05rem; }
footer.site { max-width: 72rem; margin: 2rem auto; padding: 0 1rem; color: var(--muted); font-size: .85rem; }
`

/** Plain ES2017 (no template literals: this file is one); renders with textContent only. */
const SCRIPT = `
(function () {
  'use strict';
  var num = new Intl.NumberFormat('en-US');
  var UNKNOWN = 'Stock information is unavailable right now';
  function label(item) {
    var n = item.available;
    switch (item.state) {
      case 'in_stock': return 'In stock';
      case 'low_stock': return 'Only ' + num.format(n) + ' left';
      case 'out_of_stock': return 'Out of stock';
      case 'unknown_sku': return 'Not available';
      case 'drop_scheduled': return n === null ? 'Drop scheduled' : 'Drop: ' + num.format(n) + ' units, starting soon';
      case 'drop_live': return 'Drop live: ' + num.format(n) + ' units left';
      case 'sold_out': return 'Sold out';
      default: return UNKNOWN;
    }
  }
  function show(nodes, text, state) {
    for (var i = 0; i < nodes.length; i++) { nodes[i].textContent = text; nodes[i].setAttribute('data-state', state); }
  }
  function fill() {
    var nodes = document.querySelectorAll('[data-sku]');
    var bySku = {};
    var skus = [];
    for (var i = 0; i < nodes.length; i++) {
      var sku = nodes[i].getAttribute('data-sku');
      if (!bySku[sku]) { bySku[sku] = []; skus.push(sku); }
      bySku[sku].push(nodes[i]);
    }
    for (var start = 0; start < skus.length; start += 50) ask(skus.slice(start, start + 50), bySku);
  }
  function ask(skus, bySku) {
    var url = '/api/availability?skus=' + encodeURIComponent(skus.join(','));
    fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        var seen = {};
        if (body && body.items) body.items.forEach(function (item) {
          seen[item.sku] = true;
          show(bySku[item.sku] || [], label(item), item.state);
        });
        skus.forEach(function (sku) { if (!seen[sku]) show(bySku[sku], UNKNOWN, 'unknown'); });
      })
      .catch(function () { skus.forEach(function (sku) { show(bySku[sku], UNKNOWN, 'unknown'); }); });
  }
  var times = document.querySelectorAll('time[data-local]');
  for (var t = 0; t < times.length; t++) {
    var when = new Date(times[t].getAttribute('datetime'));
    var options = { dateStyle: 'medium', timeStyle: 'short' };
    if (!isNaN(when.getTime())) times[t].textContent = when.toLocaleString(undefined, options);
  }
  fill();
  var poll = Number(document.body.getAttribute('data-poll-ms')) || 0;
  if (poll > 0) setInterval(fill, poll);

  var input = document.getElementById('q');
  var list = document.getElementById('suggestions');
  var timer = null;
  var last = '';
  function suggest() {
    var q = input.value.trim();
    if (q.length < 2 || q === last) return;
    last = q;
    fetch('/api/search/suggest?q=' + encodeURIComponent(q), { headers: { accept: 'application/json' } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (body) {
        if (!body || input.value.trim() !== q) return;
        while (list.firstChild) list.removeChild(list.firstChild);
        body.suggestions.forEach(function (s) {
          var o = document.createElement('option');
          o.value = s.text;
          list.appendChild(o);
        });
      })
      .catch(function () {});
  }
  if (input && list) input.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });
})();
`

/** Only this file's inline script and style run; the pages talk to their own origin only. */
const policy = contentSecurityPolicy(SCRIPT, STYLE, [
  `connect-src 'self'`,
  `img-src 'self' data: https:`,
  `base-uri 'none'`,
  `form-action 'self'`,
  `frame-ancestors 'none'`,
])

// Building an Intl.NumberFormat costs far more than using one: one per currency, kept.
const FORMATS = new Map<string, Intl.NumberFormat | null>()
const COUNT = new Intl.NumberFormat('en-US')
const count = (n: number) => COUNT.format(n)

export function money(cents: number, currency: string): string {
  let format = FORMATS.get(currency)
  if (format === undefined) {
    try {
      format = new Intl.NumberFormat('en-US', { style: 'currency', currency })
    } catch {
      format = null
    }
    FORMATS.set(currency, format)
  }
  return format ? format.format(cents / 100) : `${(cents / 100).toFixed(2)} ${currency}`
}

function priceHtml(priceCents: number, listPriceCents: number, currency: string): string {
  const price = esc(money(priceCents, currency))
  if (priceCents >= listPriceCents) return `<span class="price">${price}</span>`
  const was = esc(money(listPriceCents, currency))
  return `<span class="price"><span class="sale">${price}</span><del aria-label="was ${was}">${was}</del></span>`
}

const url = (path: string, params: Record<string, string | number | undefined> = {}) => {
  const search = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') search.set(k, String(v))
  const qs = search.toString()
  return qs ? `${path}?${qs}` : path
}

/** `<a href>` with the href and the text escaped; `attrs` is trusted markup. */
const link = (href: string, text: string, attrs = '') => `<a href="${esc(href)}"${attrs}>${esc(text)}</a>`
const categoryLink = (c: { slug: string; name: string }, attrs = '') => link(`/c/${c.slug}`, c.name, attrs)

function stockSlot(sku: string): string {
  return `<span class="stock" data-sku="${esc(sku)}" data-state="loading">Checking availability…</span>`
}

const BLANK_IMAGE = `data:image/svg+xml;charset=utf-8,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 1 1'/%3E`

function card(p: ProductSummary): string {
  const image = p.image
    ? `<img src="${esc(p.image.url)}" alt="${esc(p.image.alt || p.name)}" loading="lazy" width="300" height="300">`
    : `<img src="${BLANK_IMAGE}" alt="" width="300" height="300">`
  return `<li class="card">${image}<div class="body">
  ${link(`/p/${p.slug}`, p.name, ' class="title"')}
  <span class="brand-name">${esc(p.brand)}</span>
  ${priceHtml(p.priceCents, p.listPriceCents, p.currency)}
  ${stockSlot(p.sku)}
</div></li>`
}

function grid(products: ProductSummary[], label: string): string {
  if (!products.length) return '<p>Nothing here yet.</p>'
  return `<ul class="grid" aria-label="${esc(label)}">${products.map(card).join('\n')}</ul>`
}

function crumbs(path: Array<{ slug: string; name: string }>, current?: string): string {
  const last = path.length - 1
  const items = [
    `<li><a href="/">Home</a></li>`,
    ...path.map((c, i) => {
      const here = i === last && current === undefined ? ' aria-current="page"' : ''
      return `<li>${categoryLink(c, here)}</li>`
    }),
  ]
  if (current !== undefined) items.push(`<li aria-current="page">${esc(current)}</li>`)
  return `<nav class="crumbs" aria-label="Breadcrumb"><ol>${items.join('')}</ol></nav>`
}

interface Layout {
  title: string
  description?: string
  body: string
  departments: CategoryNode[]
  q?: string
  pollMs?: number
}

function layout({ title, description, body, departments, q = '', pollMs = 0 }: Layout): string {
  const nav = departments.map((d) => `<li>${categoryLink(d)}</li>`).join('')
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${esc(title)} · Floodgate</title>
${description ? `<meta name="description" content="${esc(description)}">` : ''}
<style>${STYLE}</style>
</head>
<body data-poll-ms="${pollMs}">
<a class="skip" href="#main">Skip to content</a>
<header class="site">
  <div class="bar">
    <a class="brand" href="/">Floodgate</a>
    <form class="search" role="search" action="/search" method="get">
      <label for="q" class="skip">Search the store</label>
      <input id="q" name="q" type="search" value="${esc(q)}" placeholder="Search products" autocomplete="off"
        list="suggestions" maxlength="200" aria-label="Search the store">
      <datalist id="suggestions"></datalist>
      <button type="submit">Search</button>
    </form>
  </div>
  <nav class="departments" aria-label="Departments"><ul>${nav}</ul></nav>
</header>
<main id="main">
${body}
</main>
<footer class="site">Pages show no live stock: availability is checked as you look.
Flash drops sell through a fair waiting room.</footer>
<script>${SCRIPT}</script>
</body>
</html>
`
}

const localTime = (iso: string) => `<time datetime="${esc(iso)}" data-local>${esc(new Date(iso).toUTCString())}</time>`

function dropLine(drop: DropSummary, now: number): string {
  const when = Date.parse(drop.startsAt) <= now ? 'live now' : `starts ${localTime(drop.startsAt)}`
  const price = esc(money(drop.priceCents, drop.currency))
  return `<strong>Flash drop: ${esc(count(drop.stock))} units at ${price}</strong>, ${when}.`
}

function section(id: string, title: string, content: string): string {
  return `<section aria-labelledby="${id}"><h2 id="${id}">${esc(title)}</h2>${content}</section>`
}

export function homePage(
  data: { categories: CategoryNode[]; newArrivals: ProductSummary[]; drops: DropSummary[] },
  now: number,
): string {
  const dropItems = data.drops.map(
    (d) => `<li class="drop"><p>${link(`/p/${d.productSlug}`, d.productName)}</p><p>${dropLine(d, now)}</p>
  <p>${stockSlot(d.sku)}</p><p>${link(d.url, 'Join the line', ' class="button"')}</p></li>`,
  )
  const departmentItems = data.categories.map((d) => {
    const children = d.children.map((c) => `<li>${categoryLink(c)}</li>`).join('')
    const title = `<a href="${esc(`/c/${d.slug}`)}"><strong>${esc(d.name)}</strong></a>`
    return `<li>${title} <span class="facet-count">(${d.productCount})</span><ul>${children}</ul></li>`
  })
  const body = [
    '<h1>The store around the drop</h1>',
    dropItems.length ? section('drops-title', 'Flash drops', `<ul class="drops">${dropItems.join('')}</ul>`) : '',
    section('departments-title', 'Departments', `<ul class="departments-grid">${departmentItems.join('')}</ul>`),
    section('new-title', 'New arrivals', grid(data.newArrivals, 'New arrivals')),
  ].join('\n')
  return layout({
    title: 'Home',
    description: 'Flash drops and everyday products',
    body,
    departments: data.categories,
    pollMs: data.drops.length ? DROP_POLL_MS : 0,
  })
}

const LIST_SORT_LABELS: Record<string, string> = {
  newest: 'Newest',
  price_asc: 'Price: low to high',
  price_desc: 'Price: high to low',
  name: 'Name',
}

export interface ListParams {
  sort: string
  brand?: string[]
  priceMin?: number
  priceMax?: number
  inStock?: boolean
}

const checked = (on: boolean | undefined) => (on ? ' checked' : '')

export function categoryPage(list: ProductListResponse, params: ListParams, departments: CategoryNode[]): string {
  const path = `/c/${list.category.slug}`
  const brandBoxes = list.brands
    .map((b) => {
      const on = checked(params.brand?.includes(b.value))
      const box = `<input type="checkbox" name="brand" value="${esc(b.value)}"${on}>`
      return `<li><label>${box} ${esc(b.value)} <span class="facet-count">(${b.count})</span></label></li>`
    })
    .join('')
  const sorts = Object.entries(LIST_SORT_LABELS)
    .map(([v, l]) => `<option value="${v}"${params.sort === v ? ' selected' : ''}>${esc(l)}</option>`)
    .join('')
  const filters = `<aside class="filters" aria-label="Filters"><form method="get" action="${esc(path)}">
  <h2>Sort</h2><label for="sort" class="skip">Sort by</label>
  <select id="sort" name="sort">${sorts}</select>
  <h2>Brand</h2><ul>${brandBoxes}</ul>
  <h2>Price (cents)</h2>
  <label>From <input type="number" name="priceMin" min="0" value="${params.priceMin ?? ''}"></label>
  <label>To <input type="number" name="priceMax" min="0" value="${params.priceMax ?? ''}"></label>
  <h2>Stock</h2>
  <label><input type="checkbox" name="inStock" value="true"${checked(params.inStock)}> In stock only</label>
  <p><button type="submit">Apply</button></p>
</form></aside>`
  const children = list.category.children.length
    ? `<nav aria-label="Subcategories"><p>${list.category.children.map((c) => categoryLink(c)).join(' · ')}</p></nav>`
    : ''
  const nextUrl = url(path, {
    sort: params.sort,
    brand: params.brand?.join(','),
    priceMin: params.priceMin,
    priceMax: params.priceMax,
    inStock: params.inStock ? 'true' : undefined,
    cursor: list.nextCursor ?? undefined,
  })
  const next = list.nextCursor ? `<p class="pager">${link(nextUrl, 'Next page', ' class="button" rel="next"')}</p>` : ''
  const toolbar = `<div class="toolbar"><span>${count(list.total)} products</span></div>`
  const body = `${crumbs(list.category.path)}<h1>${esc(list.category.name)}</h1>${children}
<div class="layout">${filters}<section aria-label="Products">${toolbar}
${grid(list.products, list.category.name)}${next}</section></div>`
  return layout({ title: list.category.name, description: `${list.category.name} at Floodgate`, body, departments })
}

function gallery(product: Product): string {
  const [first, ...rest] = product.images
  if (!first) return '<div class="gallery"></div>'
  const main = `<img src="${esc(first.url)}" alt="${esc(first.alt || product.name)}" width="600" height="600">`
  const thumbs = rest
    .map((i) => `<img src="${esc(i.url)}" alt="${esc(i.alt)}" width="120" height="120" loading="lazy">`)
    .join('')
  return `<div class="gallery">${main}${thumbs ? `<div class="thumbs">${thumbs}</div>` : ''}</div>`
}

function dropSection(v: Product['variants'][number], now: number): string {
  const d = v.drop!
  const live = Date.parse(d.startsAt) <= now
  const when = live ? 'It is live now.' : `It starts ${localTime(d.startsAt)}.`
  const id = `drop-${esc(d.saleId)}`
  return `<section class="drop" aria-labelledby="${id}"><h2 id="${id}">Flash drop</h2>
  <p><strong>${esc(count(d.stock))} units of ${esc(v.sku)}</strong> go to the line in a fair order. ${when}</p>
  <p>${stockSlot(v.sku)}</p>
  <p>${link(d.url, live ? 'Join the line' : 'Wait in the line', ' class="button"')}</p></section>`
}

function variantsTable(product: Product): string {
  const names = [...new Set(product.variants.flatMap((v) => Object.keys(v.attributes)))]
  const heads = ['SKU', ...names.map((a) => a.replace(/_/g, ' ')), 'Price', 'Availability']
  const rows = product.variants.map((v) => {
    const price = priceHtml(v.priceCents, v.listPriceCents, v.currency)
    const cells = [esc(v.sku), ...names.map((a) => esc(v.attributes[a] ?? '')), price]
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}<td>${stockSlot(v.sku)}</td></tr>`
  })
  return `<table class="variants"><caption class="skip">Variants of ${esc(product.name)}</caption>
<thead><tr>${heads.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
<tbody>${rows.join('')}</tbody></table>`
}

export function productPage(product: Product, departments: CategoryNode[], now: number): string {
  const drops = product.variants.filter((v) => v.drop)
  const details = Object.entries(product.attributes)
    .map(([k, v]) => `<dt>${esc(k.replace(/_/g, ' '))}</dt><dd>${esc(v)}</dd>`)
    .join('')
  const body = `${crumbs(product.category.path, product.name)}
<article class="product">${gallery(product)}<div>
  <h1>${esc(product.name)}</h1>
  <p class="brand-name">by ${esc(product.brand)}</p>
  <p>${priceHtml(product.priceCents, product.listPriceCents, product.currency)}</p>
  ${drops.map((v) => dropSection(v, now)).join('')}
  <h2>Choose a variant</h2>${variantsTable(product)}
  ${product.description ? `<h2>About it</h2><p>${esc(product.description)}</p>` : ''}
  ${details ? `<h2>Details</h2><dl class="details">${details}</dl>` : ''}
</div></article>`
  return layout({
    title: product.name,
    description: product.description.slice(0, 160),
    body,
    departments,
    pollMs: drops.length ? DROP_POLL_MS : 0,
  })
}

function facetList(title: string, values: FacetValue[], href: (v: FacetValue) => string): string {
  if (!values.length) return ''
  const items = values.map((v) => {
    const current = v.selected ? ' aria-current="true"' : ''
    return `<li>${link(href(v), v.label, current)} <span class="facet-count">(${v.count})</span></li>`
  })
  return `<h2>${esc(title)}</h2><ul>${items.join('')}</ul>`
}

export function searchPage(result: SearchResponse, query: SearchQuery, departments: CategoryNode[]): string {
  const base = {
    q: query.q,
    brand: query.brand?.join(','),
    category: query.category?.join(','),
    priceMin: query.priceMin,
    priceMax: query.priceMax,
    inStock: query.inStock === undefined ? undefined : String(query.inStock),
    sort: query.sort === 'relevance' ? undefined : query.sort,
  }
  const search = (changes: Record<string, string | number | undefined>) => url('/search', { ...base, ...changes })
  const toggle = (list: string[] | undefined, value: string) => {
    const set = new Set(list ?? [])
    if (set.has(value)) set.delete(value)
    else set.add(value)
    return [...set].join(',') || undefined
  }
  const prices = result.facets.price
    .filter((p) => p.count > 0 || p.selected)
    .map((p) => ({ value: p.key, label: priceLabel(p.from, p.to), count: p.count, selected: p.selected }))
  const priceHref = (v: FacetValue) => {
    const bucket = result.facets.price.find((p) => p.key === v.value)!
    if (v.selected) return search({ priceMin: undefined, priceMax: undefined })
    return search({ priceMin: bucket.from ?? undefined, priceMax: bucket.to === null ? undefined : bucket.to - 1 })
  }
  const facets = `<aside class="filters" aria-label="Refine">
  ${facetList('Brand', result.facets.brand, (v) => search({ brand: toggle(query.brand, v.value) }))}
  ${facetList('Category', result.facets.category, (v) => search({ category: toggle(query.category, v.value) }))}
  ${facetList('Price', prices, priceHref)}
</aside>`
  const didYouMean = result.didYouMean
    ? `<p class="didyoumean">Did you mean ${link(search({ q: result.didYouMean }), result.didYouMean)}?</p>`
    : ''
  const next = result.nextCursor
    ? `<p class="pager">${link(search({ cursor: result.nextCursor }), 'Next page', ' class="button" rel="next"')}</p>`
    : ''
  const heading = query.q ? `Results for “${esc(query.q)}”` : 'All products'
  const found = `${count(result.total)} ${result.total === 1 ? 'product' : 'products'}`
  const body = `<h1>${heading}</h1>${didYouMean}
<div class="layout">${facets}<section aria-label="Results">
<div class="toolbar" role="status"><span>${found}</span></div>
${grid(result.hits, 'Search results')}${next}</section></div>`
  return layout({ title: query.q ? `Search: ${query.q}` : 'Search', body, departments, q: query.q })
}

function priceLabel(from: number | null, to: number | null): string {
  const d = (c: number) => `$${count(c / 100)}`
  if (from === null) return `Under ${d(to!)}`
  if (to === null) return `${d(from)} and up`
  return `${d(from)} – ${d(to)}`
}

export function messagePage(title: string, message: string, departments: CategoryNode[] = []): string {
  return layout({
    title,
    body: `<h1>${esc(title)}</h1><p class="notice">${esc(message)}</p><p><a href="/">Back to the store</a></p>`,
    departments,
  })
}

/** A complete HTML response with the storefront's security headers and the cache outcome of its data. */
export async function htmlResponse(
  html: string,
  status: number,
  outcome: CacheOutcome | null,
  extra: Record<string, string> = {},
): Promise<Response> {
  return new Response(html, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // The edge keeps the data; browsers ask again, so a price change reaches them too.
      'cache-control': 'public, max-age=0, must-revalidate',
      'content-security-policy': await policy(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'strict-origin-when-cross-origin',
      vary: 'accept',
      ...(outcome ? { 'x-floodgate-cache': outcome } : {}),
      ...extra,
    },
  })
}

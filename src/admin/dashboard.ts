/**
 * The dashboard: `GET <base>dashboard`, a page with no data in it, its script and styles,
 * and uPlot from the installed `uplot` package (no CDN, no build step for the user), all
 * public; and `GET <base>stream`, the live feed as server-sent events, which follows the
 * admin server's token rules like every other data route. Every URL the page uses is
 * relative, so it works under any base path or reverse-proxy prefix.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { nodeFs } from '../util/lazy.js';
import { HttpError, type Reply, type Route } from '../transport/server.js';
import type { LiveFeed } from './feed.js';

/** The page's own files, and where each comes from. */
const ASSETS: Readonly<Record<string, { readonly type: string; readonly from: 'own' | 'uplot'; readonly file: string }>> = {
  'app.js': { type: 'text/javascript; charset=utf-8', from: 'own', file: 'app.js' },
  'app.css': { type: 'text/css; charset=utf-8', from: 'own', file: 'app.css' },
  'uplot.js': { type: 'text/javascript; charset=utf-8', from: 'uplot', file: 'uplot/dist/uPlot.iife.min.js' },
  'uplot.css': { type: 'text/css; charset=utf-8', from: 'uplot', file: 'uplot/dist/uPlot.min.css' },
};

/**
 * The page may load only its own files and talk only to its own server; no inline
 * script; no framing by other sites.
 */
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'",
  'Referrer-Policy': 'no-referrer',
};

/**
 * Where the page's files are: beside this module when it runs from the sources
 * (`src/admin/dashboard/`), or `dist/dashboard/` when it runs from the built package,
 * whose shared code sits in `dist/chunks/`.
 */
function ownDir(): string | undefined {
  const fs = nodeFs();
  for (const rel of ['./dashboard/', '../dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (fs.existsSync(`${dir}app.js`)) return dir;
  }
  return undefined;
}

/** Reads the page's files once; a file that cannot be read answers 500 with the reason, the admin server keeps running. */
function loadAssets(): Map<string, { type: string; body: Buffer } | { error: string }> {
  const fs = nodeFs();
  const dir = ownDir();
  const require = createRequire(import.meta.url);
  const out = new Map<string, { type: string; body: Buffer } | { error: string }>();
  for (const [name, asset] of Object.entries(ASSETS)) {
    try {
      if (asset.from === 'own' && dir === undefined) throw new Error('the dashboard files are missing beside the probekit module');
      const path = asset.from === 'own' ? `${dir as string}${asset.file}` : require.resolve(asset.file);
      out.set(name, { type: asset.type, body: fs.readFileSync(path) });
    } catch (err) {
      out.set(name, { error: `dashboard file ${name} could not be read: ${err instanceof Error ? err.message : String(err)}` });
    }
  }
  return out;
}

/** The page: a shell that holds no data; the script fetches everything with the token it is given. */
function page(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>probekit dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard/uplot.css">
<link rel="stylesheet" href="dashboard/app.css">
</head>
<body>
<header>
  <h1>probekit <span id="who"></span></h1>
  <span id="conn" class="conn" role="status">connecting…</span>
</header>
<div id="banner" class="banner" role="alert" hidden></div>
<form id="login" class="login" hidden>
  <label>Bearer token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Connect</button>
  <span id="login-why"></span>
</form>
<main id="main">
  <section aria-labelledby="h-process"><h2 id="h-process">Process</h2><div id="process" class="grid"></div></section>
  <section class="side-by-side">
    <div aria-labelledby="h-health"><h2 id="h-health">Health</h2><ul id="health" class="list"><li class="muted">no checks registered</li></ul></div>
    <div aria-labelledby="h-alerts"><h2 id="h-alerts">Alerts</h2><ul id="alerts" class="list"><li class="muted">no alerts</li></ul></div>
    <div aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2><div id="actions" class="actions"><span class="muted">loading…</span></div><pre id="action-result" class="result" hidden></pre></div>
  </section>
  <section aria-labelledby="h-errors"><h2 id="h-errors">Recent errors <span id="error-total" class="muted"></span></h2><div id="errors"><p class="muted">none so far</p></div></section>
  <section aria-labelledby="h-probes"><h2 id="h-probes">Probes <span id="probe-count" class="muted"></span></h2><input id="filter" type="search" placeholder="filter by name" aria-label="filter probes by name"><div id="probes" class="grid"></div></section>
  <section aria-labelledby="h-runtime"><h2 id="h-runtime">Runtime and probekit <span id="runtime-count" class="muted"></span></h2><div id="runtime" class="grid"></div></section>
</main>
<script src="dashboard/uplot.js"></script>
<script src="dashboard/app.js"></script>
</body>
</html>
`;
}

/** The dashboard's routes under `base`; the stream reads `feed`. */
export function dashboardRoutes(base: string, feed: LiveFeed): Route[] {
  const assets = loadAssets();
  const html = page();
  return [
    { method: 'GET', path: `${base}dashboard`, handle: () => ({ headers: { 'Content-Type': 'text/html; charset=utf-8', ...PAGE_HEADERS }, body: html }) },
    // `dashboard/` would make every relative URL of the page one level too deep.
    { method: 'GET', path: `${base}dashboard/`, handle: () => ({ status: 301, headers: { Location: '../dashboard' } }) },
    {
      method: 'GET',
      path: `${base}dashboard/*`,
      handle: (req): Reply => {
        const asset = assets.get(req.path.slice(`${base}dashboard/`.length));
        if (asset === undefined) throw new HttpError(404, 'no such dashboard file', 'not_found');
        if ('error' in asset) throw new Error(asset.error);
        return { headers: { 'Content-Type': asset.type }, body: asset.body };
      },
    },
    {
      method: 'GET',
      path: `${base}stream`,
      guarded: true,
      handle: (): Reply => {
        const stream = feed.subscribe();
        if (stream === undefined) throw new HttpError(503, 'too many dashboards are open; close one and try again', 'too_many_streams');
        return { headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'X-Accel-Buffering': 'no' }, body: stream };
      },
    },
  ];
}

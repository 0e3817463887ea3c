// lib: shared helpers of the browser tests — launching Debian's Chromium, where the server is, where pictures go.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

import { readdirSync, readFileSync } from 'node:fs';

const here = path.dirname(fileURLToPath(import.meta.url));

// The server under test: the integration harness (or a developer) starts the stack and says where.
export const baseURL = (process.env.USERMGR_TEST_BASE_URL || 'http://localhost:8080').replace(/\/+$/, '');

// Screenshots land here so a person (or CI's artefacts) can look at what the page showed.
export const outDir = process.env.USERMGR_TEST_OUT || path.resolve(here, '..', 'out', 'browser');

// Debian's package, not a Playwright-downloaded build: only the apt and npm registries are reachable.
export const chromiumPath = process.env.USERMGR_TEST_CHROMIUM || '/usr/bin/chromium';

// Flags keep a headless run quiet and self-contained: no sandbox (root in CI), no GPU, and nothing
// that phones home (component updates, sync, background fetches), so the only traffic is to baseURL.
const chromiumArgs = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-background-networking',
	'--disable-component-update',
	'--no-first-run',
	'--disable-sync',
	'--disable-quic',
];

/** Launches a headless Chromium with a fresh profile (playwright-core makes one per launch). */
export async function launch() {
	return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, headless: true });
}

/** Absolute URL of a path on the server under test. */
export function url(p) {
	return baseURL + (p.startsWith('/') ? p : '/' + p);
}

/** Path of a screenshot file; creates the directory on first use. */
export function shot(name) {
	mkdirSync(outDir, { recursive: true });
	return path.join(outDir, name);
}

/**
 * Collects everything on a page that points at a broken page: console errors (CSP violations are
 * reported there: "Refused to apply inline style ...", "Refused to load ..."), uncaught exceptions,
 * failed requests and 4xx/5xx answers to the page's own sub-resources.  Returns the live array.
 */
export function collectProblems(page) {
	const problems = [];
	page.on('console', (msg) => {
		if (msg.type() === 'error' || msg.type() === 'warning' && /Content.Security.Policy|Refused to/i.test(msg.text()))
			problems.push(`console ${msg.type()}: ${msg.text()}`);
	});
	page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
	page.on('requestfailed', (req) => problems.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
	page.on('response', (res) => {
		if (res.status() >= 400)
			problems.push(`HTTP ${res.status()} for ${res.url()}`);
	});
	return problems;
}

/**
 * Installs a listener for the DOM's securitypolicyviolation events before any page script runs,
 * so a CSP violation is caught even when the console message is worded differently.
 * Read the list back with cspViolations(page).
 */
export async function watchCsp(context) {
	await context.addInitScript(() => {
		window.__cspViolations = [];
		document.addEventListener('securitypolicyviolation', (e) => {
			window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
		});
	});
}

export async function cspViolations(page) {
	const v = await page.evaluate(() => window.__cspViolations ?? null);
	if (v === null)
		throw new Error('the CSP listener was not installed: call watchCsp(context) before opening the page');
	return v;
}

// ---- Mail: reading what the stack sent -------------------------------------------------------

// The stack's state dir (tests/run passes it): the file transport writes <id>.eml files to its
// mail/ directory.
export const stateDir = process.env.USERMGR_TEST_STATE_DIR || null;
export const mailDir = process.env.USERMGR_TEST_MAIL_DIR || (stateDir ? path.join(stateDir, 'mail') : null);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Decodes a quoted-printable body (RFC 2045 §6.7): soft line breaks, then =XX octets, as UTF-8. */
export function decodeQuotedPrintable(s) {
	const soft = s.replace(/=\r?\n/g, '');
	const bytes = [];
	for (let i = 0; i < soft.length; i++) {
		const c = soft[i];
		if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(soft.slice(i + 1, i + 3))) {
			bytes.push(parseInt(soft.slice(i + 1, i + 3), 16));
			i += 2;
		} else {
			bytes.push(...Buffer.from(c, 'utf8'));
		}
	}
	return Buffer.from(bytes).toString('utf8');
}

/** Splits a header block into a map of lower-cased names to unfolded values (RFC 5322 §2.2.3). */
function parseHeaders(block) {
	const headers = {};
	for (const line of block.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
		const colon = line.indexOf(':');
		if (colon > 0)
			headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
	}
	return headers;
}

function splitEntity(raw) {
	const m = /\r?\n\r?\n/.exec(raw);
	if (!m)
		return { headers: parseHeaders(raw), body: '' };
	return { headers: parseHeaders(raw.slice(0, m.index)), body: raw.slice(m.index + m[0].length) };
}

function decodeBody(headers, body) {
	const cte = (headers['content-transfer-encoding'] || '7bit').toLowerCase();
	if (cte === 'quoted-printable')
		return decodeQuotedPrintable(body);
	if (cte === 'base64')
		return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
	return body;
}

/**
 * Parses an RFC 5322 message with MIME parts (RFC 2046) far enough for the tests: the headers,
 * and the decoded text/plain and text/html bodies.  Returns {headers, text, html}.
 */
export function parseMail(raw) {
	const top = splitEntity(raw);
	const found = { text: null, html: null };
	const walk = (headers, body) => {
		const type = headers['content-type'] || 'text/plain';
		const boundary = /boundary="?([^";]+)"?/i.exec(type);
		if (/^multipart\//i.test(type) && boundary) {
			const parts = body.split(new RegExp('^--' + boundary[1].replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '(?:--)?[ \\t]*\\r?$', 'm'));
			// parts[0] is the preamble, the last one the epilogue after the closing delimiter.
			for (const part of parts.slice(1, -1)) {
				const p = splitEntity(part.replace(/^\r?\n/, ''));
				walk(p.headers, p.body.replace(/\r?\n$/, ''));
			}
		} else if (/^text\/html/i.test(type)) {
			found.html ??= decodeBody(headers, body);
		} else if (/^text\/plain/i.test(type)) {
			found.text ??= decodeBody(headers, body);
		}
	};
	walk(top.headers, top.body);
	return { headers: top.headers, text: found.text, html: found.html };
}

/** The newest .eml in mailDir addressed to `to`, parsed, or null (none yet, or no mail dir). */
function newestEml(to) {
	if (!mailDir)
		return null;
	let names;
	try {
		names = readdirSync(mailDir);
	} catch {
		return null;
	}
	// <id>.eml, id = the outbox row: the highest id is the newest.  Dot files are unfinished writes.
	const ids = names.map((n) => /^(\d+)\.eml$/.exec(n)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => b - a);
	const want = to.toLowerCase();
	for (const id of ids) {
		const raw = readFileSync(path.join(mailDir, `${id}.eml`), 'utf8');
		const mail = parseMail(raw);
		if ((mail.headers.to || '').toLowerCase().includes(want))
			return { source: `${id}.eml`, subject: mail.headers.subject ?? '', text: mail.text ?? '', html: mail.html ?? '' };
	}
	return null;
}

/**
 * Waits up to timeoutMs for a mail to `to` and returns {source, subject, text, html}: the .eml
 * the mailer wrote, as a person would receive it (MIME encoding included).  A row waiting in
 * email_outbox does not count: a dead mailer must fail these tests.  The mailer polls the outbox
 * and retries, hence the generous default.
 */
export async function waitForMail(to, { timeoutMs = 20000, intervalMs = 250 } = {}) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const eml = newestEml(to);
		if (eml)
			return eml;
		if (Date.now() >= deadline)
			break;
		await sleep(intervalMs);
	}
	throw new Error(`no .eml to ${to} within ${timeoutMs} ms in ${mailDir ?? 'an unset mail dir: ' +
		'set USERMGR_TEST_MAIL_DIR or USERMGR_TEST_STATE_DIR'} (is usermgr-mailer running?)`);
}

/** The first absolute link in text whose path is one of paths (e.g. '/verify-email'), as a URL, or null. */
export function findLink(text, paths) {
	for (const m of text.matchAll(/https?:\/\/[^\s<>"']+/g)) {
		const u = new URL(m[0]);
		if (paths.includes(u.pathname))
			return u;
	}
	return null;
}

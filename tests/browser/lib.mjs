// lib: shared helpers of the browser tests — launching Debian's Chromium, where the server is, where pictures go.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));

// The server under test: the integration harness (or a developer) starts the stack and says where.
export const baseURL = (process.env.USERMGR_TEST_BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

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

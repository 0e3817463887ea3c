// flows: steps the admin, MFA and account tests share — fresh people, sign-up and verification, log in and out, TOTP codes, page checks.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';

import { baseURL, collectProblems, findLink, url, waitForMail, watchCsp } from './lib.mjs';

// tests/run starts the stack with USERMGR_BOOTSTRAP_ADMIN_PASSWORD and hands the same value on:
// what the operator of that stack knows (API.md §1: user `admin`, role admin, verified).
export const adminPassword = process.env.USERMGR_TEST_ADMIN_PASSWORD || null;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A person nobody has used: unique per test and per run.  Usernames are 3-32 of [A-Za-z0-9._-]
 * (API.md §2); `long` makes one of exactly 32, the longest a page has to fit on a phone.
 */
export function newPerson(tag, { long = false } = {}) {
	let username = `bt${tag}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
	if (long)
		username = (username + '_' + randomBytes(16).toString('hex')).slice(0, 32);
	return {
		username,
		email: `${username}@example.com`,
		// Long, not common, does not contain the username.
		password: `Copper-Meadow-${randomBytes(4).toString('hex')}-Finch`,
	};
}

/** A browser context of its own (its own cookies) with the CSP and problem watchers installed. */
export async function newPage(browser, { width = 1280, height = 800, userAgent } = {}) {
	const context = await browser.newContext({ viewport: { width, height }, ...(userAgent ? { userAgent } : {}) });
	await watchCsp(context);
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	return { context, page, problems: collectProblems(page) };
}

/**
 * The problems worth failing for: those collectProblems saw, minus the answers a test asked for
 * on purpose (refusals of the documents at `expected`, e.g. {403: ['/admin/users']}, which
 * Chromium also logs as "Failed to load resource"), and the fetches a quick navigation cuts
 * short (net::ERR_ABORTED: the browser's doing, not the server's): the favicon, and the passkey
 * options /login asks for at load for the autofill (static/passkey.js).
 */
export function unexpected(problems, expected = {}) {
	const docs = new Set();
	for (const [status, paths] of Object.entries(expected))
		for (const p of paths)
			docs.add(`HTTP ${status} for ${baseURL}${p}`);
	const statuses = Object.keys(expected);
	return problems.filter((p) => !docs.has(p) &&
		!/\/static\/favicon\.svg net::ERR_ABORTED$/.test(p) &&
		!/\/api\/v1\/auth\/passkey\/options net::ERR_ABORTED$/.test(p) &&
		!statuses.some((s) => p.startsWith(`console error: Failed to load resource: the server responded with a status of ${s} (`)));
}

/** The main heading's text. */
export async function heading(page) {
	return (await page.locator('main h1').first().innerText()).trim();
}

/** The text of the flash messages (role status or alert) at the top of main. */
export async function flashes(page) {
	return (await page.locator('main > .flash').allInnerTexts()).map((t) => t.trim());
}

/** Clicks `locator` and waits for the page it leads to; returns the answer to the navigation. */
export async function submit(page, locator) {
	const [res] = await Promise.all([page.waitForNavigation(), locator.click()]);
	return res;
}

/** Signs person up through /register; leaves the page on "Check your inbox". */
export async function signUp(page, person) {
	await page.goto(url('/register'));
	await page.locator('#f-username').fill(person.username);
	await page.locator('#f-email').fill(person.email);
	await page.locator('#f-password').fill(person.password);
	await page.locator('#f-password_confirm').fill(person.password);
	await submit(page, page.getByRole('button', { name: 'Create account' }));
	const refused = await page.locator('.error-summary, .field-error').allInnerTexts();
	assert.equal(await heading(page), 'Check your inbox',
		`the sign-up of ${person.username} was accepted${refused.length ? ` (the page says: ${refused.join(' / ')})` : ''}`);
}

/**
 * Waits up to timeoutMs for the newest mail to `to` that `wanted(mail)` accepts (an older mail to
 * the same address does not count) and returns it.
 */
export async function waitForMailWhere(to, wanted, timeoutMs = 20_000) {
	const deadline = Date.now() + timeoutMs;
	let last = null;
	for (;;) {
		last = await waitForMail(to, { timeoutMs: Math.max(1000, deadline - Date.now()) });
		if (wanted(last))
			return last;
		if (Date.now() >= deadline)
			throw new Error(`no matching mail to ${to} within ${timeoutMs} ms; the newest is "${last.subject}" (${last.source})`);
		await sleep(200);
	}
}

/** Opens the verification link mailed to person, as the person would. */
export async function verifyByMail(page, person) {
	const mail = await waitForMailWhere(person.email, (m) => findLink(m.text, ['/verify-email', '/verify_email']) !== null);
	const link = findLink(mail.text, ['/verify-email', '/verify_email']);
	const res = await page.goto(url(link.pathname + link.search));
	assert.equal(res.status(), 200, 'the verification link answers 200');
	assert.equal(await heading(page), 'Your address is verified');
}

/** A new person, signed up and verified through the mailed link (no admin and no extra POST). */
export async function newVerifiedPerson(page, tag, options) {
	const person = newPerson(tag, options);
	await signUp(page, person);
	await verifyByMail(page, person);
	return person;
}

/**
 * Logs in through /login (optionally /login?next=...); returns the status of the answer the
 * browser ends on (the page after the 303, or the refusal).  The caller checks where it landed.
 */
export async function logIn(page, login, password, { next } = {}) {
	await page.goto(url(next ? `/login?next=${encodeURIComponent(next)}` : '/login'));
	await page.locator('#f-login').fill(login);
	await page.locator('#f-password').fill(password);
	const res = await submit(page, page.getByRole('button', { name: 'Log in' }));
	return res.status();
}

/** Logs in as the bootstrap admin and checks that it worked. */
export async function logInAdmin(page, options) {
	assert.ok(adminPassword, 'tests/run passes the admin password as USERMGR_TEST_ADMIN_PASSWORD');
	await logIn(page, 'admin', adminPassword, options);
	assert.notEqual(new URL(page.url()).pathname, '/login', 'the bootstrap admin is signed in');
}

/** The nav's Log out button (a POST with the CSRF token); lands on /. */
export async function logOut(page) {
	const nav = page.getByRole('navigation', { name: 'Main' });
	await Promise.all([page.waitForURL(url('/')), nav.getByRole('button', { name: 'Log out' }).click()]);
	await nav.getByRole('link', { name: 'Log in' }).waitFor();
}

/** Path of the current page (no query). */
export function pathOf(page) {
	return new URL(page.url()).pathname;
}

// ---- TOTP (RFC 6238 over RFC 4226) ---------------------------------------------------------

const STEP_MS = 30_000;

/** The 30 s time step of `when` (RFC 6238 §4.2: T = floor(unix time / 30)). */
export function totpStep(when = Date.now()) {
	return Math.floor(when / STEP_MS);
}

/** RFC 4648 base32, as authenticator apps read the key; padding and case ignored. */
export function base32Decode(s) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = 0, acc = 0;
	const out = [];
	for (const c of s.replace(/=+$/, '').toUpperCase()) {
		const v = alphabet.indexOf(c);
		if (v < 0)
			throw new Error(`not base32: ${JSON.stringify(c)}`);
		acc = (acc << 5) | v;
		bits += 5;
		if (bits >= 8) {
			out.push((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	return Buffer.from(out);
}

/** The code of `step` for a base32 key: HMAC-SHA1, dynamic truncation, 6 digits (RFC 4226 §5.3). */
export function totp(secret, step = totpStep()) {
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(step));
	const h = createHmac('sha1', base32Decode(secret)).update(counter).digest();
	const o = h[h.length - 1] & 0x0f;
	return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/**
 * The code to type now, as a person with the app would: the current step's, unless that step was
 * spent already (the server takes each step once, RFC 6238 §5.2), then the next one, which the
 * server still accepts as one step of clock drift; further ahead than that it waits for the clock.
 * `used` is the last step spent (-1: none).  Returns {code, step}.
 */
export async function freshCode(secret, used) {
	for (;;) {
		const now = Date.now();
		const step = Math.max(used + 1, totpStep(now));
		if (step <= totpStep(now) + 1)
			return { code: totp(secret, step), step };
		await sleep(STEP_MS - (now % STEP_MS) + 100);
	}
}

/** A six-digit code that is not valid in any step near now: a wrong code that cannot be right by luck. */
export function wrongCode(secret) {
	const near = new Set([-2, -1, 0, 1, 2].map((d) => totp(secret, totpStep() + d)));
	for (let n = 123456; ; n = (n + 111111) % 1_000_000) {
		const c = String(n).padStart(6, '0');
		if (!near.has(c))
			return c;
	}
}

// ---- Page checks ---------------------------------------------------------------------------

/**
 * Form controls in main that a screen reader could not name: no <label for=id> and no wrapping
 * <label>.  Hidden inputs do not count.  Returns descriptions such as `input[name=password]`.
 */
export async function unlabelledControls(page) {
	return page.evaluate(() => {
		const bad = [];
		for (const el of document.querySelectorAll('main input, main select, main textarea')) {
			if (el.type === 'hidden')
				continue;
			const byFor = el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`);
			if (!byFor && !el.closest('label'))
				bad.push(`${el.tagName.toLowerCase()}[name=${el.name}]`);
		}
		return bad;
	});
}

/** The visible label text of the control with id `id` (without the "(optional)" marker). */
export async function labelOf(page, id) {
	const label = page.locator(`label[for="${id}"]`);
	assert.equal(await label.count(), 1, `one <label for="${id}">`);
	return (await label.innerText()).replace(/\s*\(optional\)\s*$/, '').trim();
}

/**
 * What sticks out sideways at the current viewport width: the page scrolling sideways, and any
 * element whose box ends right of the viewport outside a box that scrolls on its own (the
 * .table-wrap around wide tables, docs/UI.md).  Returns a list of descriptions, empty when fine.
 */
export async function sidewaysOverflow(page) {
	return page.evaluate(() => {
		const out = [];
		const de = document.documentElement;
		const width = de.clientWidth;
		if (de.scrollWidth > width)
			out.push(`the page is ${de.scrollWidth}px wide in a ${width}px viewport`);
		const scrolls = (el) => {
			for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
				const ox = getComputedStyle(p).overflowX;
				if (ox === 'auto' || ox === 'scroll' || ox === 'hidden')
					return true;
			}
			return false;
		};
		for (const el of document.querySelectorAll('body *')) {
			const r = el.getBoundingClientRect();
			if (r.width === 0 || r.right <= width + 0.5 || scrolls(el) || el.closest('.visually-hidden, .skip-link'))
				continue;
			const text = (el.textContent || '').trim().slice(0, 40);
			out.push(`<${el.tagName.toLowerCase()}${el.className ? '.' + String(el.className).replace(/ /g, '.') : ''}> ends at ${Math.round(r.right)}px: "${text}"`);
		}
		return out.slice(0, 10);
	});
}

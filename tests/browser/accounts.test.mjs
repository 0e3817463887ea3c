// accounts.test: the account pages as a person uses them — sign up, verify by the mailed link, log in, log out, a wrong password.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { baseURL, collectProblems, cspViolations, findLink, launch, shot, url, waitForMail, watchCsp } from './lib.mjs';

// A fresh person per test and per run, so a second run against the same stack does not collide
// with the first: usernames are 3-32 of [A-Za-z0-9._-] (API.md §2).
function newPerson(tag) {
	const username = `bt${tag}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
	return {
		username,
		email: `${username}@example.com`,
		// Long, not common, does not contain the username.
		password: `Violet-Harbour-${randomBytes(4).toString('hex')}-Kettle`,
	};
}

// Problems except those about the answer to the page itself, for steps where the server refuses
// the form on purpose (a wrong password may come back as 4xx, which Chromium also logs as "Failed
// to load resource"): a broken sub-resource still shows as its own "HTTP nnn for <url>" entry.
function ignoringDocument(problems, pathname) {
	const doc = baseURL + pathname;
	return problems.filter((p) => !(p.startsWith('HTTP ') && p.endsWith(` for ${doc}`)) &&
		!/^console error: Failed to load resource: the server responded with a status of 4\d\d/.test(p));
}

async function fieldValue(page, name) {
	return page.locator(`#f-${name}`).inputValue();
}

/** Opens /register, fills the form for person and submits it; leaves the page on the answer. */
async function register(page, person, shotPrefix) {
	const res = await page.goto(url('/register'));
	assert.equal(res.status(), 200, 'GET /register answers 200');
	assert.equal(await page.title(), 'Create your account · usermgr');
	const form = page.locator('form[action="/register"]');
	assert.equal(await form.getAttribute('method'), 'post');
	assert.equal(await form.getAttribute('novalidate'), null, 'browser validation stays on');
	assert.ok((await form.locator('input[name="csrf_token"]').inputValue()).length > 0, 'the form carries a CSRF token');
	if (shotPrefix)
		await page.screenshot({ path: shot(`${shotPrefix}-register.png`), fullPage: true });

	// Every control has a visible label tied to it (<label for>), so a screen reader names it.
	for (const name of ['username', 'email', 'password', 'password_confirm'])
		assert.equal(await page.locator(`label[for="f-${name}"]`).count(), 1, `the ${name} field has its label`);
	await page.locator('#f-username').fill(person.username);
	await page.locator('#f-email').fill(person.email);
	await page.locator('#f-password').fill(person.password);
	await page.locator('#f-password_confirm').fill(person.password);
	assert.equal(await page.locator('#f-password').getAttribute('autocomplete'), 'new-password');
	if (shotPrefix)
		await page.screenshot({ path: shot(`${shotPrefix}-register-filled.png`), fullPage: true });
	await page.getByRole('button', { name: 'Create account' }).click();
	await page.waitForLoadState('load');
	// On a refusal, say why: the error summary's text is in the failure message.
	const refused = await page.locator('.error-summary, .field-error, .flash-error').allInnerTexts();
	assert.equal(await page.locator('main h1').innerText(), 'Check your inbox',
		`the sign-up was accepted${refused.length ? ` (the page says: ${refused.join(' / ')})` : ''}`);
}

/** The main heading, for a short failure message instead of a locator timeout. */
async function heading(page) {
	return (await page.locator('main h1').first().innerText()).trim();
}

describe('account pages', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('a person can register, verify by the mailed link, log in and log out', { timeout: 90_000 }, async (t) => {
		const person = newPerson('a');
		const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		await watchCsp(context);
		const page = await context.newPage();
		page.setDefaultTimeout(15_000);
		const problems = collectProblems(page);

		// 1. Sign up.
		await register(page, person, 'accounts');
		assert.equal(await page.title(), 'Check your inbox · usermgr');
		assert.match(await page.locator('main').innerText(), new RegExp(person.email.replace(/[.]/g, '\\.')),
			'the page names the address the link went to');
		assert.equal(await page.locator('main a[href="/verify-email/resend"]').count(), 1, 'a way to get a new link');
		await page.screenshot({ path: shot('accounts-register-done.png'), fullPage: true });

		// 2. The mail: a file of the file transport, or the outbox row while no mailer runs.
		const mail = await waitForMail(person.email);
		t.diagnostic(`verification mail from ${mail.source}: "${mail.subject}"`);
		assert.match(mail.subject, /verif/i, 'the subject says what the mail is for');
		assert.ok(mail.text.includes(person.username), 'the mail greets the person by username');
		const link = findLink(mail.text, ['/verify-email', '/verify_email']);
		assert.ok(link, `the text part holds a /verify-email link:\n${mail.text}`);
		assert.ok(link.searchParams.get('token'), 'the link carries a token');
		const lines = mail.text.split(/\r?\n/).map((l) => l.trim());
		assert.ok(lines.includes(link.href), 'the URL stands on a line of its own');
		if (mail.html)
			assert.ok(mail.html.includes(link.href.replace(/&/g, '&amp;')), 'the HTML part links to the same URL');
		if (link.origin !== new URL(baseURL).origin)
			t.diagnostic(`the mailed link's origin ${link.origin} is not the test's ${baseURL}; opening its path there`);

		// 3. Follow the link: verified at once (GET verifies, API.md §5).
		const vres = await page.goto(url(link.pathname + link.search));
		assert.equal(vres.status(), 200, 'the verification link answers 200');
		assert.equal(await heading(page), 'Your address is verified');
		await page.screenshot({ path: shot('accounts-verified.png'), fullPage: true });

		// 4. Log in from the verified page's button.
		await Promise.all([
			page.waitForURL(url('/login')),
			page.locator('main').getByRole('link', { name: 'Log in' }).click(),
		]);
		assert.equal(await page.title(), 'Log in · usermgr');
		const remember = page.getByLabel('Keep me signed in for 30 days');
		assert.equal(await remember.getAttribute('type'), 'checkbox');
		assert.equal(await remember.isChecked(), false, 'staying signed in is opt-in');
		assert.equal(await page.locator('main a[href="/forgot-password"]').count() >= 1, true, 'a forgotten-password link');
		assert.equal(await page.locator('main a[href="/register"]').count() >= 1, true, 'a create-account link');
		await page.locator('#f-login').fill(person.username);
		await page.locator('#f-password').fill(person.password);
		await page.screenshot({ path: shot('accounts-login.png'), fullPage: true });
		await Promise.all([
			page.waitForURL(url('/profile')),
			page.getByRole('button', { name: 'Log in' }).click(),
		]);

		// 5. The profile shows who is signed in; the nav turned into the signed-in one.
		assert.equal(await page.title(), 'Your profile · usermgr');
		const details = page.locator('main dl');
		assert.match(await details.innerText(), new RegExp(person.username), 'the profile lists the username');
		assert.match(await details.innerText(), /\bVerified\b/, 'the address shows as verified');
		assert.doesNotMatch(await details.innerText(), /not verified/i, 'and not as unverified');
		const nav = page.getByRole('navigation', { name: 'Main' });
		await nav.getByRole('button', { name: 'Log out' }).waitFor();
		assert.equal(await nav.getByRole('link', { name: 'Log in' }).count(), 0, 'no "Log in" once signed in');
		assert.equal(await page.getByRole('button', { name: 'Save profile' }).count(), 1, 'the edit form is there');
		await page.screenshot({ path: shot('accounts-profile.png'), fullPage: true });

		// 6. Log out with the nav's button (a POST carrying the CSRF token): back home, anonymous.
		await Promise.all([
			page.waitForURL(url('/')),
			nav.getByRole('button', { name: 'Log out' }).click(),
		]);
		await nav.getByRole('link', { name: 'Log in' }).waitFor();
		assert.equal(await nav.getByRole('link', { name: 'Register' }).count(), 1, 'the anonymous nav offers Register');
		assert.equal(await nav.getByRole('button', { name: 'Log out' }).count(), 0, 'no "Log out" once signed out');
		await page.screenshot({ path: shot('accounts-logged-out.png'), fullPage: true });

		// The session really ended: the profile now asks for a login.
		await page.goto(url('/profile'));
		assert.equal(new URL(page.url()).pathname, '/login', 'GET /profile after logout goes to the login page');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
		await context.close();
	});

	test('a wrong password shows the error beside the form and keeps the login', { timeout: 60_000 }, async () => {
		const person = newPerson('w');
		const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		await watchCsp(context);
		const page = await context.newPage();
		page.setDefaultTimeout(15_000);
		const problems = collectProblems(page);

		// An account that exists (unverified is enough: the password is checked first).
		await register(page, person, null);

		await page.goto(url('/login'));
		await page.locator('#f-login').fill(person.username);
		await page.locator('#f-password').fill(person.password + 'x');
		await page.getByLabel('Keep me signed in for 30 days').check();
		const [res] = await Promise.all([
			page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
			page.getByRole('button', { name: 'Log in' }).click(),
		]);
		await page.waitForLoadState('load');
		assert.notEqual(res.status(), 303, 'a wrong password does not log in');
		assert.equal(new URL(page.url()).pathname, '/login', 'the answer is the login page again');

		// The error is said in text inside the form's card: the summary and/or the field's message.
		const card = page.locator('main section', { has: page.locator('form[action="/login"]') });
		const error = card.locator('.error-summary, .field-error');
		assert.ok(await error.count() > 0, 'an error message is shown with the form');
		await error.first().waitFor({ state: 'visible' });
		assert.match(await error.first().innerText(), /\S/, 'the error has words');
		// Said only after the password was right: a wrong password must not reveal the account state.
		assert.doesNotMatch(await card.innerText(), /not verified/i, 'no "not verified" notice for a wrong password');

		assert.equal(await fieldValue(page, 'login'), person.username, 'the login is kept');
		assert.equal(await fieldValue(page, 'password'), '', 'the password is never sent back');
		assert.equal(await page.getByLabel('Keep me signed in for 30 days').isChecked(), true, 'the checkbox is kept');
		assert.ok((await card.locator('input[name="csrf_token"]').inputValue()).length > 0, 'a CSRF token for the retry');
		const nav = page.getByRole('navigation', { name: 'Main' });
		assert.equal(await nav.getByRole('button', { name: 'Log out' }).count(), 0, 'still signed out');
		await page.screenshot({ path: shot('accounts-login-wrong-password.png'), fullPage: true });

		await page.setViewportSize({ width: 375, height: 740 });
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		assert.equal(overflow, 0, 'nothing scrolls sideways at 375 px');
		await page.screenshot({ path: shot('accounts-login-wrong-password-mobile.png'), fullPage: true });

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(ignoringDocument(problems, '/login'), [], 'no console errors, page errors or failed requests');
		await context.close();
	});
});

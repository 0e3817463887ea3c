// admin-mfa.test: the admin area as an admin uses it, and two-step verification as a person turns it on and logs in with it.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { collectProblems, cspViolations, launch, shot, url, watchCsp } from './lib.mjs';

const adminPassword = process.env.USERMGR_TEST_ADMIN_PASSWORD;

function newPerson(tag) {
	const username = `bt${tag}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
	return { username, email: `${username}@example.com`, password: `Amber-Lantern-${randomBytes(4).toString('hex')}-Moss` };
}

/** RFC 6238 with the defaults authenticator apps use: HMAC-SHA1, 30 s steps, 6 digits. */
function totp(base32, when = Date.now()) {
	const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const c of base32.replace(/=+$/, '').toUpperCase())
		bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
	const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
	const counter = Buffer.alloc(8);
	counter.writeBigUInt64BE(BigInt(Math.floor(when / 30000)));
	const h = createHmac('sha1', key).update(counter).digest();
	const o = h[h.length - 1] & 15;
	return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/** Waits until a fresh 30 s step starts, so a code is not the one a previous step spent. */
async function nextStep() {
	await new Promise((r) => setTimeout(r, 30000 - (Date.now() % 30000) + 200));
}

async function newPage(browser, width = 1280) {
	const context = await browser.newContext({ viewport: { width, height: 800 } });
	await watchCsp(context);
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	return { context, page, problems: collectProblems(page) };
}

async function logIn(page, login, password) {
	await page.goto(url('/login'));
	await page.locator('#f-login').fill(login);
	await page.locator('#f-password').fill(password);
	await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Log in' }).click()]);
}

async function signUp(page, person) {
	await page.goto(url('/register'));
	await page.locator('#f-username').fill(person.username);
	await page.locator('#f-email').fill(person.email);
	await page.locator('#f-password').fill(person.password);
	await page.locator('#f-password_confirm').fill(person.password);
	await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Create account' }).click()]);
	assert.equal((await page.locator('main h1').innerText()).trim(), 'Check your inbox');
}

async function noSidewaysScroll(page) {
	return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

describe('admin area and two-step verification', () => {
	let browser;

	before(async () => {
		assert.ok(adminPassword, 'tests/run passes USERMGR_TEST_ADMIN_PASSWORD');
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('an admin finds a new user, verifies, disables and enables the account, and sees it audited', { timeout: 90_000 }, async () => {
		const person = newPerson('adm');
		const { context, page, problems } = await newPage(browser);
		await signUp(page, person);
		await logIn(page, 'admin', adminPassword);
		assert.equal(new URL(page.url()).pathname, '/profile', 'the admin is signed in');

		// The nav leads to the admin area; the list searches by prefix, case-insensitively.
		await Promise.all([page.waitForURL(/\/admin\/users/), page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Admin' }).click()]);
		assert.equal(await page.title(), 'Users · usermgr');
		await page.getByLabel('Username or e-mail starts with').fill(person.username.slice(0, 12).toUpperCase());
		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Search' }).click()]);
		const row = page.locator('tbody tr', { hasText: person.email });
		assert.equal(await row.count(), 1, 'the new user is found by a prefix of the username');
		assert.match(await row.innerText(), /unverified/, 'flagged unverified');
		await page.screenshot({ path: shot('admin-users.png'), fullPage: true });

		await Promise.all([page.waitForURL(/\/admin\/users\/\d+$/), row.getByRole('link', { name: person.username }).click()]);
		assert.equal((await page.locator('main h1').first().innerText()).trim(), person.username);
		const userPath = new URL(page.url()).pathname;

		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Mark address verified' }).click()]);
		assert.match(await page.locator('main').innerText(), /The address is marked verified\./);
		assert.equal(await page.getByRole('button', { name: 'Mark address verified' }).count(), 0, 'the action is gone once done');

		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Disable' }).click()]);
		assert.match(await page.locator('main').innerText(), /The account is disabled; its sessions and tokens ended\./);
		assert.equal(await page.locator('main dd .badge-danger', { hasText: 'disabled' }).count(), 1, 'the status badge says disabled');
		await page.screenshot({ path: shot('admin-user-disabled.png'), fullPage: true });

		// The person cannot log in while disabled (a second browser context: their own cookies).
		const them = await newPage(browser);
		await logIn(them.page, person.username, person.password);
		assert.equal(new URL(them.page.url()).pathname, '/login', 'a disabled account stays on the login page');

		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Enable' }).click()]);
		assert.match(await page.locator('main').innerText(), /The account is enabled\./);
		await logIn(them.page, person.username, person.password);
		assert.equal(new URL(them.page.url()).pathname, '/profile', 'enabled again, the person logs in');
		await them.context.close();

		// The audit log lists what the admin did, filtered by the user.
		const uid = userPath.split('/').pop();
		await page.goto(url(`/admin/audit?user_id=${uid}`));
		assert.equal(await page.title(), 'Audit log · usermgr');
		const log = await page.locator('main table').innerText();
		for (const ev of ['user_verified', 'user_disabled', 'user_enabled'])
			assert.match(log, new RegExp(ev), `the log lists ${ev}`);
		await page.screenshot({ path: shot('admin-audit.png'), fullPage: true });

		// Roles: a new one is listed as custom.
		const role = `bt${randomBytes(3).toString('hex')}`;
		await page.goto(url('/admin/roles'));
		await page.getByLabel('Name').fill(role);
		await page.getByLabel('Description').fill('Made by the browser test');
		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Create role' }).click()]);
		assert.match(await page.locator('main').innerText(), /The role was created\./);
		assert.match(await page.locator('tbody tr', { hasText: role }).innerText(), /custom/);

		await page.setViewportSize({ width: 375, height: 740 });
		await page.goto(url(userPath));
		assert.equal(await noSidewaysScroll(page), 0, 'the user page does not scroll sideways at 375 px');
		await page.screenshot({ path: shot('admin-user-mobile.png'), fullPage: true });

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(problems.filter((p) => !/favicon\.svg net::ERR_ABORTED$/.test(p)), [],
			'no console errors, page errors or failed requests');
		await context.close();
	});

	test('a person turns on two-step verification and then logs in with a code', { timeout: 120_000 }, async () => {
		const person = newPerson('mfa');
		const { context, page, problems } = await newPage(browser);
		await signUp(page, person);
		// Verified by the admin's button, as in the test above, so this test needs no mail.
		const admin = await newPage(browser);
		await logIn(admin.page, 'admin', adminPassword);
		await admin.page.goto(url(`/admin/users?q=${person.username}`));
		await admin.page.locator('tbody tr', { hasText: person.email }).getByRole('link', { name: person.username }).click();
		await Promise.all([admin.page.waitForLoadState('load'), admin.page.getByRole('button', { name: 'Mark address verified' }).click()]);
		await admin.context.close();

		await logIn(page, person.username, person.password);
		assert.equal(new URL(page.url()).pathname, '/profile');
		await page.locator('main a[href="/account/mfa"]').click();
		assert.equal(await page.title(), 'Two-step verification · usermgr');
		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Set up two-step verification' }).click()]);
		const qr = page.locator('#mfa-qr');
		await qr.waitFor({ state: 'visible' });
		const box = await qr.boundingBox();
		assert.ok(box.width >= 150 && box.height >= 150, 'the QR code is big enough to scan');
		const secret = (await page.locator('#mfa-secret').innerText()).trim();
		assert.match(secret, /^[A-Z2-7]{16,}$/, 'the key is base32');
		assert.match(await page.locator('#mfa-uri').getAttribute('href'), /^otpauth:\/\/totp\//);
		await page.screenshot({ path: shot('mfa-setup.png'), fullPage: true });

		await page.getByLabel('Code from the app').fill(totp(secret));
		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Turn on' }).click()]);
		const codes = await page.locator('.recovery-codes code').allInnerTexts();
		assert.equal(codes.length, 10, 'ten recovery codes, shown once');
		await page.screenshot({ path: shot('mfa-recovery-codes.png'), fullPage: true });

		// Log out and in again: the password alone leads to the code step.
		await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }).click();
		await page.waitForURL(url('/'));
		await logIn(page, person.username, person.password);
		assert.equal(new URL(page.url()).pathname, '/login/mfa', 'the second step asks for a code');
		await page.getByLabel('Verification code').fill('000000');
		await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Verify' }).click()]);
		assert.equal(new URL(page.url()).pathname, '/login/mfa', 'a wrong code is refused');
		assert.ok(await page.locator('.field-error, .error-summary').count() > 0, 'with a message');
		await page.screenshot({ path: shot('mfa-wrong-code.png'), fullPage: true });

		// The confirming code spent its 30 s step (RFC 6238 §5.2): use the next one.
		await nextStep();
		await page.getByLabel('Verification code').fill(totp(secret));
		await Promise.all([page.waitForURL(url('/profile')), page.getByRole('button', { name: 'Verify' }).click()]);
		assert.equal(await page.title(), 'Your profile · usermgr');

		// A recovery code works once, in place of the app.
		await page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name: 'Log out' }).click();
		await page.waitForURL(url('/'));
		await logIn(page, person.username, person.password);
		await page.getByLabel('Verification code').fill(codes[0]);
		await Promise.all([page.waitForURL(url('/profile')), page.getByRole('button', { name: 'Verify' }).click()]);

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		// Besides the refused code, and a favicon fetch that a navigation cut short.
		assert.deepEqual(problems.filter((p) => !/ 400 for .*\/login\/mfa$|status of 400|favicon\.svg net::ERR_ABORTED$/.test(p)), [],
			'no console errors, page errors or failed requests besides the refused code');
		await context.close();
	});
});

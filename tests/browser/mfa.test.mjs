// mfa.test: two-step verification as a person uses it — turn TOTP on from /account/mfa, log in with a code or a recovery code, turn it off.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cspViolations, launch, shot, url } from './lib.mjs';
import {
	flashes, freshCode, heading, labelOf, logIn, logOut, newPage, newVerifiedPerson, pathOf, sidewaysOverflow,
	submit, unexpected, unlabelledControls, wrongCode,
} from './flows.mjs';

/** The message beside the field with id `id` (partials/field: <p class="field-error" id="<id>-error">). */
async function fieldError(page, id) {
	const el = page.locator(`#${id}-error`);
	assert.equal(await el.count(), 1, `a message beside #${id}`);
	assert.equal(await page.locator(`#${id}`).getAttribute('aria-invalid'), 'true', `#${id} is marked invalid`);
	assert.match(await page.locator(`#${id}`).getAttribute('aria-describedby'), new RegExp(`\\b${id}-error\\b`),
		`#${id} points at its message`);
	return (await el.innerText()).trim();
}

/** The value of the session cookie (API.md §3: usermgr_session on http), or null. */
async function sessionCookie(context) {
	return (await context.cookies()).find((c) => c.name === 'usermgr_session')?.value ?? null;
}

/** Types a code on /login/mfa and presses Verify; returns the status of the page it ends on. */
async function enterCode(page, code) {
	await page.getByLabel('Verification code').fill(code);
	return (await submit(page, page.getByRole('button', { name: 'Verify' }))).status();
}

describe('two-step verification (TOTP)', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('a person turns TOTP on, logs in with a code and with a recovery code (once), and turns it off with password and code', { timeout: 120_000 }, async (t) => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'tot');
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/profile');

		// 1. Off: the profile's link leads to the page with one button.
		await submit(page, page.getByRole('link', { name: 'Two-step verification' }));
		assert.equal(pathOf(page), '/account/mfa');
		assert.equal(await page.title(), 'Two-step verification · usermgr');
		assert.equal(await heading(page), 'Two-step verification');
		assert.match(await page.locator('main').innerText(), /Two-step verification is off\./);
		await page.screenshot({ path: shot('mfa-1-off.png'), fullPage: true });

		// 2. Setup needs the password first (a stolen session alone cannot enrol): a wrong one is
		// refused beside its field, the right one shows the QR code (an SVG image, decoded and big
		// enough to scan) and the key.
		assert.equal(await labelOf(page, 'f-password'), 'Your password');
		await page.getByLabel('Your password').fill(person.password + '!');
		assert.equal((await submit(page, page.getByRole('button', { name: 'Set up two-step verification' }))).status(), 403,
			'a wrong password answers 403');
		assert.equal(await fieldError(page, 'f-password'), 'is not correct');
		assert.equal(await page.locator('#mfa-secret').count(), 0, 'no secret without the password');
		await page.getByLabel('Your password').fill(person.password);
		await submit(page, page.getByRole('button', { name: 'Set up two-step verification' }));
		const qr = page.getByRole('img', { name: 'QR code holding the key below, for an authenticator app' });
		await qr.waitFor({ state: 'visible' });
		assert.match(await qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/, 'the QR code is an SVG data: URI (CSP img-src data:)');
		const img = await qr.evaluate((el) => ({ complete: el.complete, natural: el.naturalWidth, w: el.clientWidth, h: el.clientHeight }));
		assert.ok(img.complete && img.natural > 0, 'the browser decoded the QR image');
		assert.ok(img.w >= 150 && img.h >= 150, `the QR code is big enough to scan (${img.w}×${img.h})`);
		const svg = Buffer.from((await qr.getAttribute('src')).split(',')[1], 'base64').toString('utf8');
		assert.match(svg, /<svg[\s>]/, 'the data is an SVG document');
		const secret = (await page.locator('#mfa-secret').innerText()).trim();
		assert.match(secret, /^[A-Z2-7]{32}$/, 'the key is 160 bits in base32 (RFC 4226 §4 R6)');
		const uri = new URL(await page.getByRole('link', { name: 'add usermgr to an authenticator app' }).getAttribute('href'));
		assert.equal(uri.protocol, 'otpauth:');
		assert.equal(uri.searchParams.get('secret'), secret, 'the otpauth link holds the same key');
		assert.equal(uri.searchParams.get('digits'), '6');
		assert.equal(uri.searchParams.get('period'), '30');
		assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
		assert.ok(decodeURIComponent(uri.pathname).endsWith(`:${person.username}`), 'the otpauth label names the account');
		assert.equal(await labelOf(page, 'f-code'), 'Code from the app');
		assert.equal(await page.locator('#f-code').getAttribute('autocomplete'), 'one-time-code');
		assert.deepEqual(await unlabelledControls(page), []);
		await page.screenshot({ path: shot('mfa-2-setup-qr.png'), fullPage: true });

		// 3. Confirm with the current code (computed here as the app would): on, ten recovery codes, once.
		let used = -1;
		let c = await freshCode(secret, used);
		await page.getByLabel('Code from the app').fill(c.code);
		assert.equal((await submit(page, page.getByRole('button', { name: 'Turn on' }))).status(), 200);
		used = c.step;
		assert.deepEqual(await flashes(page), ['Two-step verification is on. Save your recovery codes now.']);
		const codes = (await page.locator('ul.recovery-codes code').allInnerTexts()).map((s) => s.trim());
		assert.equal(codes.length, 10, 'ten recovery codes');
		assert.equal(new Set(codes).size, 10, 'all different');
		for (const code of codes)
			assert.match(code, /^[a-z2-7]{5}-[a-z2-7]{5}$/, `recovery code ${code} has the form of two groups of five`);
		assert.match(await page.locator('main .notice').innerText(), /They are not shown again\./);
		await page.screenshot({ path: shot('mfa-3-recovery-codes.png'), fullPage: true });
		await page.setViewportSize({ width: 375, height: 740 });
		assert.deepEqual(await sidewaysOverflow(page), [], 'the recovery codes fit a phone');
		await page.screenshot({ path: shot('mfa-3-recovery-codes-mobile.png'), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 800 });

		// Shown once: the page now offers only the form to turn it off.
		await submit(page, page.getByRole('link', { name: 'I have saved them' }));
		assert.equal(pathOf(page), '/profile');
		await page.goto(url('/account/mfa'));
		assert.equal(await page.locator('ul.recovery-codes').count(), 0, 'the codes are not shown again');
		for (const code of codes)
			assert.doesNotMatch(await page.content(), new RegExp(code), 'no recovery code in the page source');
		assert.match(await page.locator('main').innerText(), /Two-step verification is on\./);

		// 4. Log out and in again: the password leads to the code step.
		await logOut(page);
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/login/mfa', 'the password alone leads to the code step');
		assert.equal(await heading(page), 'Two-step verification');
		assert.equal(await labelOf(page, 'f-code'), 'Verification code');
		assert.equal(await page.locator('#f-code-hint').innerText(),
			'The 6-digit code your authenticator app shows, or one of your recovery codes.');
		const profile = await page.request.get(url('/profile'), { maxRedirects: 0 });
		assert.equal(profile.status(), 303, 'half-way through, the profile is still closed');
		assert.equal(profile.headers().location, '/login?next=%2Fprofile');
		await page.screenshot({ path: shot('mfa-4-login-step.png'), fullPage: true });

		// A wrong code: refused, with the message beside the field and in the summary above the form.
		assert.equal(await enterCode(page, wrongCode(secret)), 400, 'a wrong code answers 400');
		assert.equal(pathOf(page), '/login/mfa');
		assert.equal(await fieldError(page, 'f-code'), 'is not correct');
		assert.equal(await page.locator('#f-code').inputValue(), '', 'the code is not sent back');
		const summary = page.getByRole('alert').filter({ hasText: 'Please correct the following' });
		assert.equal(await summary.getByRole('link').getAttribute('href'), '#f-code', 'the summary links to the field');
		await page.screenshot({ path: shot('mfa-5-wrong-code.png'), fullPage: true });

		// The right code (the step after the confirming one: each step counts once).
		const halfway = await sessionCookie(context);
		c = await freshCode(secret, used);
		assert.equal(await enterCode(page, c.code), 200);
		used = c.step;
		assert.equal(pathOf(page), '/profile', 'the right code lands on the profile');
		const full = await sessionCookie(context);
		assert.ok(halfway && full && full !== halfway, 'the session id is renewed after the code step (API.md §7)');
		assert.equal(await page.title(), 'Your profile · usermgr');
		await page.screenshot({ path: shot('mfa-6-profile.png'), fullPage: true });

		// 5. A recovery code works in place of the app, once.
		await logOut(page);
		await logIn(page, person.username, person.password);
		assert.equal(await enterCode(page, codes[0].toUpperCase()), 200, 'a recovery code (any case) is accepted');
		assert.equal(pathOf(page), '/profile');
		await logOut(page);
		await logIn(page, person.username, person.password);
		assert.equal(await enterCode(page, codes[0]), 400, 'the same recovery code a second time is refused');
		assert.equal(await fieldError(page, 'f-code'), 'is not correct');
		await page.screenshot({ path: shot('mfa-7-recovery-code-reused.png'), fullPage: true });
		assert.equal(await enterCode(page, codes[1]), 200, 'another recovery code still works');
		assert.equal(pathOf(page), '/profile');

		// The security page lists what happened.
		await page.goto(url('/account/security'));
		const labels = await page.locator('tbody tr td:first-child').allInnerTexts();
		for (const label of ['Two-step verification turned on', 'Wrong two-step verification code', 'Recovery code used'])
			assert.ok(labels.some((l) => l.startsWith(label)), `the security page lists "${label}"`);

		// 6. Turn it off: password and a code.  A wrong password first: refused beside its field.
		await page.goto(url('/account/mfa'));
		assert.equal(await labelOf(page, 'f-password'), 'Your password');
		assert.equal(await labelOf(page, 'f-code'), 'Verification code');
		assert.deepEqual(await unlabelledControls(page), []);
		await page.screenshot({ path: shot('mfa-8-disable-form.png'), fullPage: true });
		await page.getByLabel('Your password').fill(person.password + '!');
		await page.getByLabel('Verification code').fill(wrongCode(secret));
		assert.equal((await submit(page, page.getByRole('button', { name: 'Turn off' }))).status(), 403, 'a wrong password answers 403');
		assert.equal(await fieldError(page, 'f-password'), 'is not correct');
		assert.equal(await page.locator('#f-password').inputValue(), '', 'the password is not sent back');
		assert.match(await page.locator('main').innerText(), /Two-step verification is on\./, 'still on');

		// The third code in a row: once the step after the login's has begun (waits at most 30 s).
		const waited = Date.now();
		c = await freshCode(secret, used);
		t.diagnostic(`waited ${Date.now() - waited} ms for a fresh TOTP step`);
		await page.getByLabel('Your password').fill(person.password);
		await page.getByLabel('Verification code').fill(c.code);
		assert.equal((await submit(page, page.getByRole('button', { name: 'Turn off' }))).status(), 200);
		assert.deepEqual(await flashes(page), ['Two-step verification is off. Logging in needs only your password now.']);
		assert.match(await page.locator('main').innerText(), /Two-step verification is off\./);
		assert.equal(await page.getByRole('button', { name: 'Set up two-step verification' }).count(), 1);
		await page.screenshot({ path: shot('mfa-9-off-again.png'), fullPage: true });

		// Off means off: the password alone signs in again.
		await logOut(page);
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/profile', 'no code step once it is off');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 400: ['/login/mfa'], 403: ['/account/mfa'] }), [],
			'no console errors, page errors or failed requests besides the refusals asked for');
		await context.close();
	});
});

// account.test: the account pages linked from /profile — each renders its labelled form; password change, session sign-out, address change, export and deletion really act.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';

import { cspViolations, findLink, launch, shot, url } from './lib.mjs';
import {
	flashes, heading, labelOf, logIn, newPage, newVerifiedPerson, pathOf, sidewaysOverflow, submit, unexpected,
	unlabelledControls, waitForMailWhere,
} from './flows.mjs';

// Other browsers of the same person, told apart on /account/sessions by their user agent.
const agent = (name) => `Mozilla/5.0 (X11; Linux x86_64) usermgr-browser-test ${name}`;

/** The message beside the field with id `id`, checking that the control points at it. */
async function fieldError(page, id) {
	assert.equal(await page.locator(`#${id}`).getAttribute('aria-invalid'), 'true', `#${id} is marked invalid`);
	return (await page.locator(`#${id}-error`).innerText()).trim();
}

/** Labels of the event rows on /account/security (the first cell's first line). */
async function securityLabels(page) {
	await page.goto(url('/account/security'));
	return (await page.locator('tbody tr td:first-child').allInnerTexts()).map((t) => t.split('\n')[0].trim());
}

/** A second (third, ...) browser of the same person, signed in. */
async function otherBrowser(browser, person, name) {
	const b = await newPage(browser, { userAgent: agent(name) });
	await logIn(b.page, person.username, person.password);
	assert.equal(pathOf(b.page), '/profile', `${name} signs in`);
	return b;
}

describe('account pages', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('each account page linked from the profile renders its form with every field labelled, and the export downloads the account\'s data', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'acp');
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/profile');

		// title, heading, labels by control id, the submit button: as the templates and handlers say.
		const pages = [
			{ link: 'Change your password', path: '/account/password', title: 'Change your password', button: 'Change password',
				labels: { 'f-current_password': 'Current password', 'f-password': 'New password', 'f-password_confirm': 'Repeat the new password' },
				autocomplete: { 'f-current_password': 'current-password', 'f-password': 'new-password', 'f-password_confirm': 'new-password' } },
			{ link: 'Change your e-mail address', path: '/account/email', title: 'Change your e-mail address', button: 'Send the link',
				labels: { 'f-password': 'Your password', 'f-email': 'New e-mail address' },
				autocomplete: { 'f-password': 'current-password', 'f-email': 'email' } },
			{ link: 'Two-step verification', path: '/account/mfa', title: 'Two-step verification', button: 'Set up two-step verification',
				labels: { 'f-password': 'Your password' }, autocomplete: { 'f-password': 'current-password' } },
			{ link: 'Where you are signed in', path: '/account/sessions', title: 'Where you are signed in', button: null,
				labels: {}, autocomplete: {} },
			{ link: 'Security activity', path: '/account/security', title: 'Security activity', button: null,
				labels: {}, autocomplete: {} },
			{ link: 'Delete your account', path: '/account/delete', title: 'Delete your account', button: 'Delete my account',
				labels: { 'f-password': 'Your password' }, autocomplete: { 'f-password': 'current-password' } },
		];
		for (const p of pages) {
			await page.goto(url('/profile'));
			const res = await submit(page, page.locator('main .link-list').getByRole('link', { name: p.link }));
			assert.equal(res.status(), 200, `${p.path} answers 200`);
			assert.equal(pathOf(page), p.path, `"${p.link}" leads to ${p.path}`);
			assert.equal(await page.title(), `${p.title} · usermgr`);
			assert.equal(await heading(page), p.title);
			assert.deepEqual(await unlabelledControls(page), [], `every control on ${p.path} has a label`);
			for (const [id, text] of Object.entries(p.labels)) {
				assert.equal(await labelOf(page, id), text, `${p.path}: the label of #${id}`);
				assert.equal(await page.locator(`#${id}`).getAttribute('required'), '', `${p.path}: #${id} is required`);
				assert.equal(await page.locator(`#${id}`).getAttribute('autocomplete'), p.autocomplete[id], `${p.path}: #${id} autocomplete`);
			}
			if (p.button) {
				const form = page.locator('main form', { has: page.getByRole('button', { name: p.button }) });
				assert.equal(await form.getAttribute('method'), 'post');
				assert.equal(await form.getAttribute('action'), p.path);
				assert.ok((await form.locator('input[name="csrf_token"]').inputValue()).length > 0, `${p.path}: the form carries a CSRF token`);
			}
			const name = p.path.split('/').pop();
			await page.screenshot({ path: shot(`account-${name}.png`), fullPage: true });
			await page.setViewportSize({ width: 375, height: 740 });
			assert.deepEqual(await sidewaysOverflow(page), [], `${p.path}: nothing sticks out sideways at 375 px`);
			if (name === 'sessions' || name === 'security')
				await page.screenshot({ path: shot(`account-${name}-mobile.png`), fullPage: true });
			await page.setViewportSize({ width: 1280, height: 800 });
		}

		// What the pages say about this fresh account.
		await page.goto(url('/account/email'));
		assert.equal((await page.locator('main p.muted').innerText()).trim(), `Your address now is ${person.email}.`);
		await page.goto(url('/account/password'));
		assert.equal(await page.locator('#f-password-hint').innerText(), 'A long passphrase is best; common passwords are refused.');
		await page.goto(url('/account/sessions'));
		const rows = page.locator('main tbody tr');
		assert.equal(await rows.count(), 1, 'one session: this browser');
		assert.match(await rows.first().innerText(), /Browser\s+This browser/);
		assert.equal(await rows.first().getByRole('button').count(), 0, 'this browser\'s own session has no Sign out button');
		assert.match(await page.locator('main').innerText(), /You are signed in only here\./);
		const labels = await securityLabels(page);
		for (const l of ['Signed in', 'E-mail address verified', 'Account created'])
			assert.ok(labels.includes(l), `the security page lists "${l}" (got ${labels.join(', ')})`);
		assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Security' }).getAttribute('aria-current'), 'page');
		await page.goto(url('/account/delete'));
		assert.match(await page.locator('main .notice-warning').innerText(), /^This cannot be undone\./);

		// The export: a JSON download of {user, sessions, audit_events} without any secret.
		await page.goto(url('/profile'));
		const [download] = await Promise.all([
			page.waitForEvent('download'),
			page.locator('main .link-list').getByRole('link', { name: 'Download your data' }).click(),
		]);
		assert.equal(download.suggestedFilename(), 'usermgr-export.json');
		const data = JSON.parse(await readFile(await download.path(), 'utf8'));
		assert.deepEqual(Object.keys(data).sort(), ['audit_events', 'sessions', 'user']);
		assert.equal(data.user.username, person.username);
		assert.equal(data.user.email, person.email);
		assert.equal(data.user.email_verified, true);
		assert.equal(data.user.mfa_enabled, false);
		for (const secret of ['password', 'password_hash', 'mfa_secret', 'token'])
			assert.ok(!(secret in data.user), `the export's user has no ${secret}`);
		assert.ok(!JSON.stringify(data).includes(person.password), 'the password is nowhere in the export');
		assert.equal(data.sessions.length, 1);
		assert.equal(data.sessions[0].current, true);
		assert.ok(data.audit_events.some((e) => e.event === 'registered'), 'the export holds the sign-up event');
		const head = await page.request.get(url('/account/export'));
		assert.equal(head.status(), 200);
		assert.match(head.headers()['content-type'], /^application\/json\b/);
		assert.equal(head.headers()['content-disposition'], 'attachment; filename="usermgr-export.json"');
		assert.equal(head.headers()['cache-control'], 'no-store', 'an authenticated answer is not cached (API.md §2)');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		// A link that answers with a download ends its navigation as net::ERR_ABORTED: Chromium's
		// way of saying "this became a download", not a failure of the server.
		assert.deepEqual(unexpected(problems).filter((p) => p !== `request failed: ${url('/account/export')} net::ERR_ABORTED`), [],
			'no console errors, page errors or failed requests');
		await context.close();
	});

	test('changing the password keeps this browser signed in, signs the other one out, and only the new password works', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'acw');
		await logIn(page, person.username, person.password);
		const other = await otherBrowser(browser, person, 'Laptop');
		const newPassword = `${person.password}-Renewed`;

		// A wrong current password: 403, said beside the field; no password is sent back.
		await page.goto(url('/account/password'));
		await page.getByLabel('Current password').fill('not-the-password-1');
		await page.getByLabel('New password', { exact: true }).fill(newPassword);
		await page.getByLabel('Repeat the new password').fill(newPassword);
		const refused = await submit(page, page.getByRole('button', { name: 'Change password' }));
		assert.equal(refused.status(), 403, 'a wrong current password answers 403 (API.md §7)');
		assert.equal(await fieldError(page, 'f-current_password'), 'is not correct');
		for (const id of ['f-current_password', 'f-password', 'f-password_confirm'])
			assert.equal(await page.locator(`#${id}`).inputValue(), '', `#${id} is not sent back`);
		await page.screenshot({ path: shot('account-password-refused.png'), fullPage: true });

		// The real change.
		await page.getByLabel('Current password').fill(person.password);
		await page.getByLabel('New password', { exact: true }).fill(newPassword);
		await page.getByLabel('Repeat the new password').fill(newPassword);
		const changed = await submit(page, page.getByRole('button', { name: 'Change password' }));
		assert.equal(changed.status(), 200);
		assert.deepEqual(await flashes(page), ['Your password was changed. Your other sessions and app sign-ins were signed out; this one stays signed in.']);
		assert.equal(await page.locator('main > .flash-success').getAttribute('role'), 'status');
		await page.screenshot({ path: shot('account-password-changed.png'), fullPage: true });
		await page.goto(url('/profile'));
		assert.equal(pathOf(page), '/profile', 'this browser stays signed in');

		await other.page.goto(url('/profile'));
		assert.equal(pathOf(other.page), '/login', 'the other browser was signed out');
		assert.equal(await logIn(other.page, person.username, person.password), 400, 'the old password no longer works');
		await logIn(other.page, person.username, newPassword);
		assert.equal(pathOf(other.page), '/profile', 'the new one does');

		const mail = await waitForMailWhere(person.email, (m) => m.subject === 'Your usermgr password was changed');
		assert.ok(mail, 'a notice is mailed');
		assert.ok((await securityLabels(page)).includes('Password changed'), 'the security page lists the change');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 403: ['/account/password'] }), [], 'no console errors, page errors or failed requests');
		assert.deepEqual(unexpected(other.problems, { 400: ['/login'] }), [], 'nor in the other browser');
		await other.context.close();
		await context.close();
	});

	test('the sessions page signs out one other browser, then all others', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser, { userAgent: agent('Desk') });
		const person = await newVerifiedPerson(page, 'acs');
		await logIn(page, person.username, person.password);
		const phone = await otherBrowser(browser, person, 'Phone');
		const tablet = await otherBrowser(browser, person, 'Tablet');

		await page.goto(url('/account/sessions'));
		const rows = page.locator('main tbody tr');
		assert.equal(await rows.count(), 3, 'three browsers are listed');
		const mine = rows.filter({ hasText: 'This browser' });
		assert.match(await mine.innerText(), /usermgr-browser-test Desk/, 'this browser is marked as such');
		for (const r of await rows.all())
			assert.match(await r.locator('td').nth(3).innerText(), /^127\.0\.0\.1$/, 'each row shows the address');
		await page.screenshot({ path: shot('account-sessions-three.png'), fullPage: true });
		await page.setViewportSize({ width: 375, height: 740 });
		assert.deepEqual(await sidewaysOverflow(page), [], 'nothing sticks out sideways at 375 px');
		await page.screenshot({ path: shot('account-sessions-three-mobile.png'), fullPage: true });
		await page.setViewportSize({ width: 1280, height: 800 });

		// One: the phone's row has its own button, named for screen readers by the session id.
		const phoneRow = rows.filter({ hasText: 'usermgr-browser-test Phone' });
		const button = phoneRow.getByRole('button', { name: /^Sign out session \d+$/ });
		assert.equal(await button.count(), 1, 'the phone\'s row has a Sign out button');
		await submit(page, button);
		assert.equal(`${pathOf(page)}${new URL(page.url()).search}`, '/account/sessions?done=one');
		assert.deepEqual(await flashes(page), ['The session was signed out.']);
		assert.equal(await rows.count(), 2);
		assert.equal(await rows.filter({ hasText: 'usermgr-browser-test Phone' }).count(), 0, 'the phone is gone from the list');
		await page.screenshot({ path: shot('account-sessions-revoked-one.png'), fullPage: true });
		await phone.page.goto(url('/profile'));
		assert.equal(pathOf(phone.page), '/login', 'the phone is signed out');
		await tablet.page.goto(url('/profile'));
		assert.equal(pathOf(tablet.page), '/profile', 'the tablet is not');

		// All others.
		await submit(page, page.getByRole('button', { name: 'Sign out all other sessions' }));
		assert.deepEqual(await flashes(page), ['All your other sessions were signed out.']);
		assert.equal(await rows.count(), 1);
		assert.match(await page.locator('main').innerText(), /You are signed in only here\./);
		await tablet.page.goto(url('/profile'));
		assert.equal(pathOf(tablet.page), '/login', 'the tablet is signed out too');
		await page.goto(url('/profile'));
		assert.equal(pathOf(page), '/profile', 'this browser stays signed in');

		const labels = await securityLabels(page);
		assert.equal(labels.filter((l) => l === 'Session signed out remotely').length, 2, 'both sign-outs are on the security page');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems), [], 'no console errors, page errors or failed requests');
		await phone.context.close();
		await tablet.context.close();
		await context.close();
	});

	test('a change of address waits for the mailed link, and deleting the account needs the password and signs out', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'acd');
		await logIn(page, person.username, person.password);
		const newEmail = `new.${person.email}`;

		// Change of address: a wrong password is refused beside its field; the address is kept.
		await page.goto(url('/account/email'));
		await page.getByLabel('Your password').fill('not-the-password-1');
		await page.getByLabel('New e-mail address').fill(newEmail);
		assert.equal((await submit(page, page.getByRole('button', { name: 'Send the link' }))).status(), 403);
		assert.equal(await fieldError(page, 'f-password'), 'is not correct');
		assert.equal(await page.locator('#f-email').inputValue(), newEmail, 'the new address is kept for the retry');
		await page.getByLabel('Your password').fill(person.password);
		assert.equal((await submit(page, page.getByRole('button', { name: 'Send the link' }))).status(), 200);
		assert.equal(await heading(page), 'Check your new address');
		assert.match(await page.locator('main .notice').innerText(), new RegExp(`We sent a link to ${newEmail.replace(/\./g, '\\.')}\\.`));
		await page.screenshot({ path: shot('account-email-sent.png'), fullPage: true });
		const link = await waitForMailWhere(newEmail, (m) => m.subject === 'Confirm your new e-mail address for usermgr');
		assert.ok(findLink(link.text, ['/confirm-email']), 'the new address gets a /confirm-email link');
		await waitForMailWhere(person.email, (m) => m.subject === 'A change of your usermgr e-mail address was requested');
		await page.goto(url('/profile'));
		assert.match(await page.locator('main dl').innerText(), new RegExp(person.email.replace(/\./g, '\\.')),
			'until the link is followed the address stays');

		// Deletion: a wrong password is refused; the right one deletes and signs out.
		await page.goto(url('/account/delete'));
		await page.getByLabel('Your password').fill('not-the-password-1');
		assert.equal((await submit(page, page.getByRole('button', { name: 'Delete my account' }))).status(), 403);
		assert.equal(await fieldError(page, 'f-password'), 'is not correct');
		await page.getByLabel('Your password').fill(person.password);
		assert.equal((await submit(page, page.getByRole('button', { name: 'Delete my account' }))).status(), 200);
		assert.equal(await heading(page), 'Your account was deleted');
		assert.match(await page.locator('main .notice').innerText(), /Your account, its sessions and its app sign-ins are gone\./);
		const nav = page.getByRole('navigation', { name: 'Main' });
		assert.equal(await nav.getByRole('link', { name: 'Log in' }).count(), 1, 'this browser is signed out');
		await page.screenshot({ path: shot('account-deleted.png'), fullPage: true });
		await page.goto(url('/profile'));
		assert.equal(pathOf(page), '/login');
		assert.equal(await logIn(page, person.username, person.password), 400, 'the account no longer signs in');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 403: ['/account/email', '/account/delete'], 400: ['/login'] }), [],
			'no console errors, page errors or failed requests');
		await context.close();
	});
});

// alerts.test: the new-device sign-in alert as a person meets it — a second browser signs in, the mail's "This was not me" link ends that browser's session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cspViolations, findLink, launch, shot, url } from './lib.mjs';
import { heading, logIn, newPage, newVerifiedPerson, pathOf, submit, unexpected, waitForMailWhere } from './flows.mjs';

// Chromium signs in from 127.0.0.1 every time, so the second browser differs by its family only.
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const ALERT_SUBJECT = 'New sign-in to your usermgr account';

describe('new-device sign-in alert', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('a second browser\'s sign-in is mailed to the owner, and the mail\'s "This was not me" link ends that browser\'s session', { timeout: 90_000 }, async () => {
		const owner = await newPage(browser);
		const person = await newVerifiedPerson(owner.page, 'alr');
		await logIn(owner.page, person.username, person.password);
		assert.equal(pathOf(owner.page), '/profile', 'the owner signs in');

		const other = await newPage(browser, { userAgent: FIREFOX });
		await logIn(other.page, person.username, person.password);
		assert.equal(pathOf(other.page), '/profile', 'the second browser signs in');

		const mail = await waitForMailWhere(person.email, (m) => m.subject === ALERT_SUBJECT);
		assert.match(mail.text, /Browser: +Firefox/, 'the mail names the browser family');
		assert.match(mail.text, /127\.0\.0\.0\/24/, 'the mail names the network');
		const link = findLink(mail.text, ['/account/not-me']);
		assert.ok(link, 'the mail carries the "This was not me" link');
		assert.ok(mail.html.includes('This was not me'), 'the HTML part has the link text');

		// The owner opens the link: a confirmation first, nothing ends yet.
		const res = await owner.page.goto(url(link.pathname + link.search));
		assert.equal(res.status(), 200);
		assert.equal(await heading(owner.page), 'This sign-in was not you?');
		await other.page.goto(url('/profile'));
		assert.equal(pathOf(other.page), '/profile', 'opening the link ends nothing');

		await submit(owner.page, owner.page.getByRole('button', { name: 'Secure my account' }));
		assert.equal(await heading(owner.page), 'We signed that session out');
		await owner.page.screenshot({ path: shot('alerts-not-me-done.png'), fullPage: true });

		// The reported browser is signed out; a reset link is on its way.
		await other.page.goto(url('/profile'));
		assert.equal(pathOf(other.page), '/login', 'the reported session is gone');
		const reset = await waitForMailWhere(person.email, (m) => m.subject === 'Reset your usermgr password');
		assert.ok(findLink(reset.text, ['/reset-password']), 'the reset mail carries its link');

		// The owner's own browser is still in.
		await owner.page.goto(url('/profile'));
		assert.equal(pathOf(owner.page), '/profile', 'the owner\'s session stays');

		assert.deepEqual(unexpected(owner.problems), []);
		assert.deepEqual(await cspViolations(owner.page), []);
		await other.context.close();
		await owner.context.close();
	});

	test('the alert can be turned off on the security page with a labelled checkbox', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'alo');
		await logIn(page, person.username, person.password);
		await page.goto(url('/account/security'));
		const box = page.getByLabel('Mail me when my account is signed in to from a device it has not used before');
		assert.equal(await box.isChecked(), true, 'alerts are on by default');
		await box.uncheck();
		await submit(page, page.getByRole('button', { name: 'Save' }));
		assert.equal(await page.getByLabel('Mail me when my account is signed in to from a device it has not used before').isChecked(), false);
		assert.ok((await page.locator('main').innerText()).includes('New-device sign-in alerts are off.'));
		await page.screenshot({ path: shot('alerts-security-off.png'), fullPage: true });
		assert.deepEqual(unexpected(problems), []);
		await context.close();
	});
});

// passkeys.test: a passkey as a person uses one (issue 13) — Chromium's virtual authenticator (DevTools WebAuthn domain) adds it on /account/passkeys, signs in with it without a username, and it is removed.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { cspViolations, launch, shot, url } from './lib.mjs';
import {
	flashes, heading, logIn, logOut, newPage, newVerifiedPerson, pathOf, sidewaysOverflow, submit, unexpected,
} from './flows.mjs';

/**
 * A platform authenticator with user verification, as a laptop's fingerprint reader is: CTAP2,
 * internal transport, resident (discoverable) keys, the user always present and verified.
 */
async function virtualAuthenticator(context, page) {
	const cdp = await context.newCDPSession(page);
	await cdp.send('WebAuthn.enable');
	const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
		options: {
			protocol: 'ctap2',
			transport: 'internal',
			hasResidentKey: true,
			hasUserVerification: true,
			isUserVerified: true,
			automaticPresenceSimulation: true,
		},
	});
	return {
		credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
	};
}

/** The rows of the passkey table: [{name, lastUsed}]. */
async function passkeyRows(page) {
	return page.locator('#passkeys tbody tr').evaluateAll((rows) => rows.map((r) => ({
		name: r.cells[0].innerText.trim(),
		lastUsed: r.cells[2].innerText.trim(),
	})));
}

describe('passkeys', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('a person adds a passkey, signs out, signs in with it without a username, and removes it', { timeout: 120_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const authenticator = await virtualAuthenticator(context, page);
		const person = await newVerifiedPerson(page, 'pk');
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/profile');

		// 1. The profile links the page; with no passkey it says so.  Signed in a moment ago,
		// the person needs no password to go on (the recent check of issue 13).
		await submit(page, page.getByRole('link', { name: 'Passkeys' }));
		assert.equal(pathOf(page), '/account/passkeys');
		assert.equal(await heading(page), 'Passkeys');
		assert.equal(await page.locator('#no-passkeys').count(), 1);
		assert.match(await page.locator('main').innerText(), /no password is needed/);
		await submit(page, page.getByRole('button', { name: 'Continue' }));

		// 2. After the re-check the script offers to create one; the authenticator makes it.
		const create = page.getByRole('button', { name: 'Create the passkey' });
		await create.waitFor();
		await page.getByLabel('Name of the passkey').fill('Test laptop');
		await submit(page, create);
		assert.deepEqual(await flashes(page), ['Passkey added. You can sign in with it now.']);
		const rows = await passkeyRows(page);
		assert.deepEqual(rows.map((r) => r.name), ['Test laptop']);
		assert.equal(rows[0].lastUsed, 'never');
		const held = await authenticator.credentials();
		assert.equal(held.length, 1, 'the authenticator holds one credential');
		assert.equal(held[0].isResidentCredential, true, 'a discoverable credential');
		assert.equal(held[0].rpId, new URL(url('/')).hostname);
		await page.screenshot({ path: shot('passkeys-1-added.png'), fullPage: true });
		await page.setViewportSize({ width: 375, height: 800 });
		assert.deepEqual(await sidewaysOverflow(page), [], 'nothing sticks out sideways at 375 px');
		await page.setViewportSize({ width: 1280, height: 800 });

		// 3. Signed out, the login page offers the passkey in the username field's autofill
		// (conditional mediation); the virtual authenticator picks it at once, as a person would
		// pick it from the list.  No username is typed.
		await logOut(page);
		await Promise.all([page.waitForURL(url('/profile')), page.goto(url('/login'))]);
		assert.equal(pathOf(page), '/profile');
		const afterConditional = (await authenticator.credentials())[0].signCount;
		assert.ok(afterConditional > 0, 'the authenticator signed');

		// 4. Without conditional mediation (a browser that lacks it) the button does the same.
		await logOut(page);
		await page.addInitScript(() => {
			PublicKeyCredential.isConditionalMediationAvailable = async () => false;
		});
		await page.goto(url('/login'));
		const button = page.getByRole('button', { name: 'Sign in with a passkey' });
		await button.waitFor();
		await page.screenshot({ path: shot('passkeys-2-login.png'), fullPage: true });
		await Promise.all([page.waitForURL(url('/profile')), button.click()]);
		assert.equal(pathOf(page), '/profile');
		assert.ok((await authenticator.credentials())[0].signCount > afterConditional, 'signed again');

		// 5. The list shows it used; removing it leaves none.
		await page.goto(url('/account/passkeys'));
		assert.notEqual((await passkeyRows(page))[0].lastUsed, 'never');
		await submit(page, page.getByRole('button', { name: 'Remove' }));
		assert.deepEqual(await flashes(page), ['Passkey removed.']);
		assert.equal(await page.locator('#no-passkeys').count(), 1);
		assert.deepEqual(await cspViolations(page), []);
		assert.deepEqual(unexpected(problems), []);
		await context.close();
	});

	test('without JavaScript /login is the password form alone, and it still signs in', { timeout: 120_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'pkn');
		await context.close();
		const noScript = await browser.newContext({ javaScriptEnabled: false });
		const p = await noScript.newPage();
		await p.goto(url('/login'));
		assert.equal(await p.locator('#passkey-login-card').isVisible(), false, 'no passkey card without script');
		assert.equal(await p.getByRole('button', { name: 'Sign in with a passkey' }).isVisible(), false);
		assert.equal(await logIn(p, person.username, person.password), 200);
		assert.equal(pathOf(p), '/profile');
		// The passkeys page says what adding one needs instead of showing a form that cannot work.
		await p.goto(url('/account/passkeys'));
		assert.equal(await p.locator('#passkey-unsupported').isVisible(), true);
		assert.deepEqual(unexpected(problems), []);
		await noScript.close();
	});
});

// admin.test: the admin area as the bootstrap admin uses it — search, one user's actions, roles, the audit log — and who may not enter it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { cspViolations, findLink, launch, shot, url } from './lib.mjs';
import {
	adminPassword, flashes, heading, labelOf, logIn, logInAdmin, newPage, newPerson, newVerifiedPerson, pathOf,
	sidewaysOverflow, signUp, submit, unexpected, unlabelledControls, waitForMailWhere,
} from './flows.mjs';

/** The <dd> of the admin user page's definition list whose <dt> is `term`. */
function detail(page, term) {
	return page.locator('main dl.admin-details dt', { hasText: term }).locator('xpath=following-sibling::dd[1]');
}

/** The text of a locator as a person reads it aloud: textContent with runs of white space made one space. */
async function words(locator) {
	return (await locator.textContent()).replace(/\s+/g, ' ').trim();
}

/** Rows of the audit table as objects keyed by the column headings. */
async function auditRows(page) {
	return page.locator('main table').evaluate((t) => {
		const keys = [...t.querySelectorAll('thead th')].map((th) => th.textContent.trim());
		return [...t.querySelectorAll('tbody tr')].map((tr) =>
			Object.fromEntries([...tr.cells].map((td, i) => [keys[i], td.textContent.trim()])));
	});
}

/** Opens the admin page of the user with `username` from a search of the list. */
async function openUser(page, username) {
	await page.goto(url(`/admin/users?q=${encodeURIComponent(username)}`));
	await submit(page, page.locator('tbody tr').getByRole('link', { name: username, exact: true }));
	assert.match(pathOf(page), /^\/admin\/users\/\d+$/, 'the username links to the user page');
	assert.equal(await heading(page), username);
	return pathOf(page).split('/').pop();
}

/** Checks one admin page at 375 px: nothing sticks out sideways; takes the picture. */
async function mobileShot(page, path, name) {
	await page.goto(url(path));
	assert.deepEqual(await sidewaysOverflow(page), [], `nothing sticks out sideways on ${path} at 375 px`);
	await page.screenshot({ path: shot(name), fullPage: true });
}

describe('admin area', () => {
	let browser;

	before(async () => {
		assert.ok(adminPassword, 'tests/run passes USERMGR_TEST_ADMIN_PASSWORD (the stack\'s USERMGR_BOOTSTRAP_ADMIN_PASSWORD)');
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('an admin finds a new user by prefix, verifies the address, gives a new role, disables and enables the account, and the audit log names the admin', { timeout: 90_000 }, async () => {
		// The person: the longest username there is, so the pages have to fit it on a phone.
		const person = newPerson('adu', { long: true });
		const them = await newPage(browser);
		await signUp(them.page, person);

		const { context, page, problems } = await newPage(browser);
		await logInAdmin(page);
		const nav = page.getByRole('navigation', { name: 'Main' });
		await submit(page, nav.getByRole('link', { name: 'Admin' }));
		assert.equal(pathOf(page), '/admin/users', 'the nav\'s Admin link opens the user list');
		assert.equal(await page.title(), 'Users · usermgr');
		assert.equal(await heading(page), 'Users');
		assert.equal(await nav.getByRole('link', { name: 'Admin' }).getAttribute('aria-current'), 'page');

		// 1. A new role, made on /admin/roles; a malformed name is refused beside the field.
		await page.goto(url('/admin/roles'));
		assert.equal(await page.title(), 'Roles · usermgr');
		assert.equal(await heading(page), 'Roles');
		assert.deepEqual(await unlabelledControls(page), [], 'every control of the roles page has a label');
		assert.equal(await labelOf(page, 'f-name'), 'Name');
		assert.equal(await labelOf(page, 'f-description'), 'Description');
		for (const builtin of ['user', 'admin'])
			assert.match(await page.locator('tbody tr', { has: page.locator('code', { hasText: new RegExp(`^${builtin}$`) }) }).innerText(),
				/built-in/, `${builtin} is listed as built-in`);
		await page.getByLabel('Name').fill('Not A Role');
		const bad = await submit(page, page.getByRole('button', { name: 'Create role' }));
		assert.equal(bad.status(), 400, 'a malformed role name answers 400');
		assert.equal(await page.locator('#f-name-error').innerText(),
			'must be 2–32 characters: lower-case letters, digits, underscore or hyphen, starting with a letter');
		assert.equal(await page.locator('#f-name').getAttribute('aria-invalid'), 'true');
		assert.equal(await page.locator('#f-name').inputValue(), 'Not A Role', 'the name is kept for correcting');
		await page.screenshot({ path: shot('admin-roles-refused.png'), fullPage: true });

		const role = `bt-${randomBytes(4).toString('hex')}`;
		await page.getByLabel('Name').fill(role);
		await page.getByLabel('Description').fill('Reviews reports (browser test)');
		const made = await submit(page, page.getByRole('button', { name: 'Create role' }));
		assert.equal(made.status(), 200);
		assert.equal(pathOf(page), '/admin/roles');
		assert.deepEqual(await flashes(page), ['The role was created.']);
		const roleRow = page.locator('tbody tr', { has: page.locator('code', { hasText: new RegExp(`^${role}$`) }) });
		assert.deepEqual((await roleRow.locator('td').allInnerTexts()).map((s) => s.trim()),
			[role, 'Reviews reports (browser test)', 'custom']);
		await page.screenshot({ path: shot('admin-roles.png'), fullPage: true });

		// 2. The search: a prefix of the username, in upper case (the search ignores case).
		await submit(page, page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Users' }));
		assert.deepEqual(await unlabelledControls(page), [], 'every control of the search form has a label');
		await page.getByLabel('Username or e-mail starts with').fill(person.username.slice(0, 16).toUpperCase());
		await submit(page, page.getByRole('button', { name: 'Search' }));
		assert.equal(new URL(page.url()).searchParams.get('q'), person.username.slice(0, 16).toUpperCase());
		const rows = page.locator('tbody tr');
		assert.equal(await rows.count(), 1, 'the prefix finds exactly the new user');
		const cells = (await rows.first().locator('td').allTextContents()).map((s) => s.replace(/\s+/g, ' ').trim());
		assert.deepEqual(cells.slice(1), [person.username, `${person.email} unverified`, 'user', 'active', 'never'],
			'the row shows username, address (unverified), roles, status and last sign-in');
		await page.screenshot({ path: shot('admin-users-search.png'), fullPage: true });

		// 3. The user's page.
		await submit(page, rows.getByRole('link', { name: person.username }));
		assert.equal(await page.title(), `${person.username} · usermgr`);
		assert.equal(await heading(page), person.username);
		const id = pathOf(page).split('/').pop();
		assert.equal(await words(detail(page, 'Id')), id);
		assert.equal(await words(detail(page, 'E-mail')), `${person.email} unverified`);
		assert.equal(await words(detail(page, 'Status')), 'active');
		assert.equal(await words(detail(page, 'Roles')), 'user');
		assert.equal(await words(detail(page, 'Two-step verification')), 'off');
		assert.equal(await words(detail(page, 'Last sign-in')), 'never');
		assert.deepEqual(await unlabelledControls(page), [], 'every role checkbox has its label');
		assert.equal(await page.getByRole('group', { name: `Roles of ${person.username}` }).count(), 1, 'the checkboxes are a named group');
		await page.screenshot({ path: shot('admin-user.png'), fullPage: true });

		// 4. Verify the address.
		await submit(page, page.getByRole('button', { name: 'Mark address verified' }));
		assert.equal(pathOf(page), `/admin/users/${id}`);
		assert.deepEqual(await flashes(page), ['The address is marked verified.']);
		assert.equal(await detail(page, 'E-mail').locator('.badge-success').textContent(), 'verified');
		assert.equal(await page.getByRole('button', { name: 'Mark address verified' }).count(), 0, 'the action is gone once done');
		assert.equal(await page.getByRole('button', { name: 'Resend verification link' }).count(), 0, 'no resend for a verified address');

		// 5. Give the new role (the checkbox of the role made above), keep "user".
		const box = page.getByRole('checkbox', { name: new RegExp(`^${role}\\b`) });
		assert.equal(await box.isChecked(), false);
		assert.equal(await page.getByRole('checkbox', { name: /^user\b/ }).isChecked(), true, 'the user role is ticked');
		await box.check();
		await submit(page, page.getByRole('button', { name: 'Save roles' }));
		assert.deepEqual(await flashes(page), ['The roles were saved; the user\'s sessions and tokens ended.']);
		assert.deepEqual((await words(detail(page, 'Roles'))).split(', ').sort(), [role, 'user'].sort());
		assert.equal(await page.getByRole('checkbox', { name: new RegExp(`^${role}\\b`) }).isChecked(), true, 'the new role stays ticked');
		await page.screenshot({ path: shot('admin-user-roles.png'), fullPage: true });

		// The person, verified now, signs in; then the admin disables the account.
		await logIn(them.page, person.username, person.password);
		assert.equal(pathOf(them.page), '/profile', 'the verified person signs in');

		await submit(page, page.getByRole('button', { name: 'Disable' }));
		assert.deepEqual(await flashes(page), ['The account is disabled; its sessions and tokens ended.']);
		assert.equal(await detail(page, 'Status').locator('.badge-danger').textContent(), 'disabled');
		assert.equal(await page.getByRole('button', { name: 'Disable' }).count(), 0);
		assert.equal(await page.getByRole('button', { name: 'Enable' }).count(), 1, 'Enable takes Disable\'s place');
		await page.screenshot({ path: shot('admin-user-disabled-flash.png'), fullPage: true });

		// Disabling ended the person's session at once, and the account cannot sign in.
		await them.page.goto(url('/profile'));
		assert.equal(pathOf(them.page), '/login', 'the disabled person\'s session ended');
		assert.equal(await logIn(them.page, person.username, person.password), 403, 'a disabled account is refused with 403');
		assert.match(await them.page.locator('main .error-summary').innerText(), /This account is disabled\./);

		await submit(page, page.getByRole('button', { name: 'Enable' }));
		assert.deepEqual(await flashes(page), ['The account is enabled.']);
		assert.equal(await detail(page, 'Status').locator('.badge-success').textContent(), 'active');
		await logIn(them.page, person.username, person.password);
		assert.equal(pathOf(them.page), '/profile', 'enabled again, the person signs in');
		await them.context.close();

		// 6. The list filters by the new role and status.
		await page.goto(url('/admin/users'));
		await page.getByLabel('Role').selectOption(role);
		await page.getByLabel('Status').selectOption('active');
		await submit(page, page.getByRole('button', { name: 'Search' }));
		const byRole = await page.locator('tbody tr td:nth-child(2)').allInnerTexts();
		assert.deepEqual(byRole.map((s) => s.trim()), [person.username], 'only the person has the new role');

		// 7. The audit log: every action, with the admin as the actor.
		await page.goto(url(`/admin/users/${id}`));
		await submit(page, page.getByRole('link', { name: 'All events of this account' }));
		assert.equal(`${pathOf(page)}?${new URL(page.url()).searchParams}`, `/admin/audit?user_id=${id}`);
		assert.equal(await page.title(), 'Audit log · usermgr');
		assert.equal(await heading(page), 'Audit log');
		assert.equal(await page.getByLabel('User id').inputValue(), id, 'the filter shows the user id');
		const events = await auditRows(page);
		const byAdmin = ['user_verified', 'roles_changed', 'user_disabled', 'user_enabled'];
		for (const ev of byAdmin) {
			const row = events.find((e) => e.Event === ev);
			assert.ok(row, `the log lists ${ev}`);
			assert.equal(row.By, 'admin', `${ev} names the admin by username as the actor`);
			assert.equal(row.User, person.username, `${ev} names the person by username`);
		}
		assert.deepEqual(events.filter((e) => byAdmin.includes(e.Event)).map((e) => e.Event), [...byAdmin].reverse(),
			'newest first');
		const changed = JSON.parse(events.find((e) => e.Event === 'roles_changed').Details);
		assert.deepEqual({ before: [...changed.before].sort(), after: [...changed.after].sort() },
			{ before: ['user'], after: [role, 'user'].sort() }, 'roles_changed records before and after');
		assert.equal(events.find((e) => e.Event === 'registered')?.By, person.username, 'the sign-up is the person\'s own act');
		await page.screenshot({ path: shot('admin-audit-user.png'), fullPage: true });

		// Filtered by event name: the role's creation, by the admin.
		await page.getByLabel('User id').fill('');
		await page.getByLabel('Event').selectOption('role_created');
		await submit(page, page.getByRole('button', { name: 'Filter' }));
		const created = (await auditRows(page)).filter((e) => e.Details.includes(`"${role}"`));
		assert.equal(created.length, 1, 'the log lists the role\'s creation');
		assert.equal(created[0].Event, 'role_created');
		assert.equal(created[0].By, 'admin');
		assert.ok((await auditRows(page)).every((e) => e.Event === 'role_created'), 'the event filter keeps only that event');

		// 8. The same pages on a phone.
		await page.setViewportSize({ width: 375, height: 740 });
		await mobileShot(page, `/admin/users?q=${person.username.slice(0, 16)}`, 'admin-users-mobile.png');
		await mobileShot(page, `/admin/users/${id}`, 'admin-user-roles-mobile.png');
		await mobileShot(page, `/admin/audit?user_id=${id}`, 'admin-audit-mobile.png');
		await mobileShot(page, '/admin/roles', 'admin-roles-mobile.png');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 400: ['/admin/roles'] }), [], 'no console errors, page errors or failed requests');
		assert.deepEqual(unexpected(them.problems, { 403: ['/login'] }), [], 'nor on the person\'s side');
		await context.close();
	});

	test('an admin forces a password reset and deletes an account; each takes effect at once and is audited', { timeout: 60_000 }, async () => {
		const them = await newPage(browser);
		const person = await newVerifiedPerson(them.page, 'adr');
		await logIn(them.page, person.username, person.password);
		assert.equal(pathOf(them.page), '/profile');

		const { context, page, problems } = await newPage(browser);
		await logInAdmin(page);
		const id = await openUser(page, person.username);
		assert.notEqual(await words(detail(page, 'Last sign-in')), 'never', 'the sign-in is recorded');

		// Force a password reset: the password stops working, the session ends, a link is mailed.
		await submit(page, page.getByRole('button', { name: 'Force password reset' }));
		assert.deepEqual(await flashes(page), ['The password no longer works; a reset link was mailed.']);
		await page.screenshot({ path: shot('admin-user-forced-reset.png'), fullPage: true });
		await them.page.goto(url('/profile'));
		assert.equal(pathOf(them.page), '/login', 'the person\'s session ended');
		assert.equal(await logIn(them.page, person.username, person.password), 400, 'the old password is refused');
		assert.match(await them.page.locator('main .error-summary').innerText(),
			/The username, e-mail address or password is not correct\./);
		const mail = await waitForMailWhere(person.email, (m) => /Reset your usermgr password/.test(m.subject));
		assert.ok(findLink(mail.text, ['/reset-password']), 'the mail holds a /reset-password link');

		// Delete: the account is gone from the list and its page.
		await submit(page, page.getByRole('button', { name: 'Delete account' }));
		assert.equal(pathOf(page), '/admin/users', 'a deletion lands on the user list');
		assert.equal(new URL(page.url()).searchParams.get('done'), 'deleted');
		await page.screenshot({ path: shot('admin-user-deleted.png'), fullPage: true });

		await page.goto(url(`/admin/users?q=${person.username}`));
		assert.equal((await page.locator('main p', { hasText: 'No user matches.' }).count()), 1, 'the search finds nobody');
		const gone = await page.goto(url(`/admin/users/${id}`));
		assert.equal(gone.status(), 404, 'the deleted user\'s page answers 404');
		assert.equal(await heading(page), 'Not found');
		assert.match(await page.locator('main').innerText(), /No such user\./);
		assert.equal(await logIn(them.page, person.username, person.password), 400, 'nobody signs in to a deleted account');

		// Both actions are in the audit log (its rows outlive the account) with the admin as actor.
		await page.goto(url(`/admin/audit?user_id=${id}`));
		const events = await auditRows(page);
		for (const ev of ['password_reset_forced', 'user_deleted']) {
			const row = events.find((e) => e.Event === ev);
			assert.ok(row, `the log lists ${ev}`);
			assert.equal(row.By, 'admin', `${ev} names the admin as the actor`);
			assert.equal(row.User, `deleted user #${id}`, `${ev} names the deleted account by its number`);
		}
		await page.screenshot({ path: shot('admin-audit-deleted.png'), fullPage: true });

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 404: [`/admin/users/${id}`] }), [], 'no console errors, page errors or failed requests');
		assert.deepEqual(unexpected(them.problems, { 400: ['/login'] }), [], 'nor on the person\'s side');
		await them.context.close();
		await context.close();
	});

	test('after a deletion the user list says that the account was deleted', { timeout: 60_000 }, async () => {
		// POST /admin/users/{id}/delete answers 303 to /admin/users?done=deleted, and page-admin.c
		// has the message for it ("The account was deleted."), like every other action's ?done=.
		const them = await newPage(browser);
		const person = newPerson('add');
		await signUp(them.page, person);
		await them.context.close();

		const { context, page, problems } = await newPage(browser);
		await logInAdmin(page);
		await openUser(page, person.username);
		await submit(page, page.getByRole('button', { name: 'Delete account' }));
		assert.equal(`${pathOf(page)}${new URL(page.url()).search}`, '/admin/users?done=deleted');
		await page.screenshot({ path: shot('admin-users-after-delete.png'), fullPage: true });
		assert.deepEqual(await flashes(page), ['The account was deleted.'], 'a success message confirms the deletion');
		assert.equal(await page.locator('main > .flash-success').getAttribute('role'), 'status');

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems), [], 'no console errors, page errors or failed requests');
		await context.close();
	});

	test('a signed-in person who is not an admin gets 403 on every admin page and no Admin link', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'nad');
		await logIn(page, person.username, person.password);
		assert.equal(pathOf(page), '/profile');
		const nav = page.getByRole('navigation', { name: 'Main' });
		assert.equal(await nav.getByRole('link', { name: 'Admin' }).count(), 0, 'the nav offers no Admin link');

		const paths = ['/admin/users', '/admin/users/1', '/admin/audit', '/admin/roles'];
		for (const p of paths) {
			const res = await page.goto(url(p));
			assert.equal(res.status(), 403, `GET ${p} answers 403`);
			assert.equal(await page.title(), 'Forbidden · usermgr');
			assert.equal(await heading(page), 'Forbidden');
			assert.equal((await page.locator('main .error-status').textContent()).trim(), 'Error 403');
			assert.match(await page.locator('main').innerText(), /This page is for administrators\./);
			assert.equal(await nav.getByRole('button', { name: 'Log out' }).count(), 1, 'still signed in');
		}
		await page.goto(url('/admin/users'));
		await page.screenshot({ path: shot('admin-forbidden.png'), fullPage: true });

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems, { 403: paths }), [], 'no console errors, page errors or failed requests');
		await context.close();
	});

	test('an anonymous visitor is sent to /login?next=… and, once the admin signs in, lands on the page asked for', { timeout: 60_000 }, async () => {
		const { context, page, problems } = await newPage(browser);
		const wanted = '/admin/users?q=adm';

		// The answer itself: 303 with the path and query in next.
		const raw = await page.request.get(url(wanted), { maxRedirects: 0 });
		assert.equal(raw.status(), 303, 'an anonymous GET of an admin page answers 303');
		assert.equal(raw.headers().location, `/login?next=${encodeURIComponent(wanted)}`);

		// In the browser: the login page carries next in a hidden field.
		await page.goto(url(wanted));
		assert.equal(pathOf(page), '/login');
		assert.equal(new URL(page.url()).searchParams.get('next'), wanted);
		assert.equal(await page.locator('form[action="/login"] input[type="hidden"][name="next"]').inputValue(), wanted);
		await page.locator('#f-login').fill('admin');
		await page.locator('#f-password').fill(adminPassword);
		await page.screenshot({ path: shot('admin-anonymous-login.png'), fullPage: true });
		await submit(page, page.getByRole('button', { name: 'Log in' }));
		assert.equal(`${pathOf(page)}${new URL(page.url()).search}`, wanted, 'the login leads back to the page asked for');
		assert.equal(await page.getByLabel('Username or e-mail starts with').inputValue(), 'adm');
		assert.ok(await page.locator('tbody tr').getByRole('link', { name: 'admin', exact: true }).count() === 1,
			'the search found the admin');

		for (const p of ['/admin/audit', '/admin/roles', '/admin/users/1']) {
			const r = await page.request.get(url(p), { maxRedirects: 0 });
			assert.equal(r.status(), 200, `signed in as admin, GET ${p} answers 200`);
		}
		const anon = await browser.newContext();
		for (const p of ['/admin/audit', '/admin/roles', '/admin/users/1']) {
			const r = await anon.request.get(url(p), { maxRedirects: 0 });
			assert.equal(r.status(), 303, `anonymous GET ${p} answers 303`);
			assert.equal(r.headers().location, `/login?next=${encodeURIComponent(p)}`);
		}
		await anon.close();

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(unexpected(problems), [], 'no console errors, page errors or failed requests');
		await context.close();
	});
});

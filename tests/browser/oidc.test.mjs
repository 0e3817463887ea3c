// oidc.test: single sign-on through usermgr for a site nobody here wrote — Apache httpd with mod_auth_openidc (Debian's) protects a page; a person signs in through usermgr's login and consent pages, sees the page with the claims usermgr sent, and signs out through RP-initiated logout.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { baseURL, cspViolations, launch, shot, url } from './lib.mjs';
import { adminPassword, heading, newPage, newVerifiedPerson, pathOf, submit, unexpected } from './flows.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = '/usr/lib/apache2/modules';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A free loopback TCP port (the kernel's pick). */
function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.on('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

/** The admin API with the bootstrap admin's token: registers the client Apache is. */
async function registerClient(site) {
	let r = await fetch(url('/api/v1/auth/login'), {
		method: 'POST', headers: { 'Content-Type': 'application/json' },
		body: JSON.stringify({ login: 'admin', password: adminPassword }),
	});
	assert.equal(r.status, 200, 'the bootstrap admin logs in over the API');
	const { access_token: token } = await r.json();
	r = await fetch(url('/api/v1/admin/clients'), {
		method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
		body: JSON.stringify({
			name: 'Apache test site', type: 'confidential',
			redirect_uris: [`${site}/protected/redirect_uri`],
			post_logout_redirect_uris: [`${site}/loggedout.html`],
			scopes: ['openid', 'profile', 'email', 'roles'],
		}),
	});
	assert.equal(r.status, 201, 'the client is registered');
	return r.json();
}

/**
 * The mod_auth_openidc settings of docs/OIDC.md, as a reader copies them: its example hosts,
 * client and passphrase replaced by this run's.  The test runs the documented configuration.
 */
function documentedSettings(site, client) {
	const doc = readFileSync(path.resolve(here, '..', '..', 'docs', 'OIDC.md'), 'utf8');
	const m = doc.match(/```apache\n([\s\S]*?)```/);
	assert.ok(m, 'docs/OIDC.md has an ```apache example');
	return m[1]
		.replaceAll('https://id.example.com', baseURL)
		.replaceAll('https://wiki.example.com', site)
		.replaceAll('<client_id>', client.client_id)
		.replaceAll('<client_secret>', client.client_secret)
		.replaceAll('<a long random string>', randomBytes(24).toString('hex'));
}

/** httpd.conf of a throw-away Apache: loopback only, its own ServerRoot, PID and logs. */
function apacheConf(dir, port, client) {
	const site = `http://127.0.0.1:${port}`;
	const root = process.getuid() === 0 ? 'User www-data\nGroup www-data\n' : '';
	return `ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/httpd.pid"
ErrorLog "${dir}/error.log"
LogLevel warn auth_openidc:info
Mutex file:${dir}
${root}LoadModule mpm_event_module ${modules}/mod_mpm_event.so
LoadModule authn_core_module ${modules}/mod_authn_core.so
LoadModule authz_core_module ${modules}/mod_authz_core.so
LoadModule authz_user_module ${modules}/mod_authz_user.so
LoadModule mime_module ${modules}/mod_mime.so
LoadModule include_module ${modules}/mod_include.so
LoadModule auth_openidc_module ${modules}/mod_auth_openidc.so
TypesConfig /etc/mime.types
AddType text/html .shtml
AddOutputFilter INCLUDES .shtml
DocumentRoot "${dir}/www"
<Directory "${dir}/www">
	Options +Includes
	Require all granted
</Directory>

${documentedSettings(site, client)}
# This run only: a plain-http site on loopback (docs/OIDC.md says why).
OIDCCookieSameSite Off
OIDCDefaultLoggedOutURL ${site}/loggedout.html
`;
}

const page_ = `<!DOCTYPE html>
<html lang="en"><head><title>Protected</title></head><body>
<h1>Protected page</h1>
<p>sub: <span id="sub"><!--#echo var="OIDC_CLAIM_sub" --></span></p>
<p>email: <span id="email"><!--#echo var="OIDC_CLAIM_email" --></span></p>
<p>username: <span id="username"><!--#echo var="OIDC_CLAIM_preferred_username" --></span></p>
<p>roles: <span id="roles"><!--#echo var="OIDC_CLAIM_roles" --></span></p>
<p>amr: <span id="amr"><!--#echo var="OIDC_CLAIM_amr" --></span></p>
<p>issuer: <span id="iss"><!--#echo var="OIDC_CLAIM_iss" --></span></p>
</body></html>
`;

describe('single sign-on for Apache httpd with mod_auth_openidc', () => {
	let browser, apache, dir, site;

	before(async () => {
		assert.ok(adminPassword, 'tests/run passes USERMGR_TEST_ADMIN_PASSWORD');
		assert.ok(existsSync(`${modules}/mod_auth_openidc.so`),
			'Debian\'s libapache2-mod-auth-openidc is installed (deploy/local/install-deps --tests)');
		const port = await freePort();
		site = `http://127.0.0.1:${port}`;
		const client = await registerClient(site);
		dir = mkdtempSync(path.join(tmpdir(), 'usermgr-apache-'));
		mkdirSync(path.join(dir, 'www', 'protected'), { recursive: true });
		writeFileSync(path.join(dir, 'www', 'protected', 'index.shtml'), page_);
		writeFileSync(path.join(dir, 'www', 'loggedout.html'),
			'<!DOCTYPE html><html lang="en"><head><title>Signed out</title></head><body><h1>Signed out of the site</h1></body></html>\n');
		// Chromium asks every site for its icon: an empty one keeps a 404 out of the console.
		writeFileSync(path.join(dir, 'www', 'favicon.ico'), '');
		writeFileSync(path.join(dir, 'httpd.conf'), apacheConf(dir, port, client));
		// Apache reads the pages as www-data when started as root.
		for (const p of [dir, path.join(dir, 'www'), path.join(dir, 'www', 'protected')])
			chmodSync(p, 0o755);
		for (const f of ['favicon.ico', 'loggedout.html', path.join('protected', 'index.shtml')])
			chmodSync(path.join(dir, 'www', f), 0o644);
		let output = '';
		apache = spawn('/usr/sbin/apache2', ['-f', path.join(dir, 'httpd.conf'), '-DFOREGROUND'],
			{ stdio: ['ignore', 'pipe', 'pipe'] });
		apache.stdout.on('data', (d) => { output += d; });
		apache.stderr.on('data', (d) => { output += d; });
		for (let i = 0; i < 100; i++) {
			try {
				const r = await fetch(`${site}/loggedout.html`);
				if (r.status === 200)
					break;
			} catch { /* not listening yet */ }
			assert.equal(apache.exitCode, null, `apache2 exited: ${output} ${existsSync(path.join(dir, 'error.log')) ? readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`);
			await sleep(100);
		}
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
		if (apache && apache.exitCode === null) {
			// SIGWINCH is Apache's graceful stop; SIGTERM stops it at once, which is all a test needs.
			apache.kill('SIGTERM');
			await new Promise((resolve) => apache.once('exit', resolve));
		}
		if (dir)
			rmSync(dir, { recursive: true, force: true });
	});

	test('a person signs in to the Apache site through usermgr, sees their claims, and signs out through RP-initiated logout', { timeout: 90_000 }, async () => {
		const { page, problems } = await newPage(browser);
		const person = await newVerifiedPerson(page, 'sso');
		// A fresh context: nobody is signed in to usermgr yet.
		const { context: ctx2, page: p2, problems: problems2 } = await newPage(browser);

		await p2.goto(`${site}/protected/index.shtml`);
		assert.equal(pathOf(p2), '/login', 'the site sends the browser to usermgr, which asks for a login');
		await p2.locator('#f-login').fill(person.username);
		await p2.locator('#f-password').fill(person.password);
		await submit(p2, p2.getByRole('button', { name: 'Log in' }));

		assert.equal(pathOf(p2), '/oauth2/authorize', 'back at the authorization request: the consent page');
		assert.equal(await heading(p2), 'Allow access');
		assert.equal(await p2.locator('#consent-client').textContent(), 'Apache test site');
		const scopes = await p2.locator('#consent-scopes li').evaluateAll((lis) => lis.map((li) => li.dataset.scope));
		assert.deepEqual(scopes, ['openid', 'profile', 'email', 'roles']);
		await p2.screenshot({ path: shot('oidc-consent.png'), fullPage: true });
		await Promise.all([p2.waitForURL(`${site}/protected/index.shtml`), p2.getByRole('button', { name: 'Allow' }).click()]);

		assert.equal(await p2.locator('h1').textContent(), 'Protected page');
		assert.equal(await p2.locator('#email').textContent(), person.email);
		assert.equal(await p2.locator('#username').textContent(), person.username);
		assert.equal(await p2.locator('#roles').textContent(), 'user');
		assert.equal(await p2.locator('#amr').textContent(), 'pwd');
		assert.equal(await p2.locator('#iss').textContent(), baseURL);
		assert.match(await p2.locator('#sub').textContent(), /^\d+$/);
		await p2.screenshot({ path: shot('oidc-protected.png'), fullPage: true });

		// The consent is remembered: the granted site is listed on /account/apps.
		await p2.goto(url('/account/apps'));
		assert.equal(await p2.locator('#apps tbody tr').count(), 1);
		assert.match(await p2.locator('#apps tbody tr').textContent(), /Apache test site/);

		// RP-initiated logout: mod_auth_openidc sends the browser to usermgr's end_session_endpoint.
		await p2.goto(`${site}/protected/redirect_uri?logout=${encodeURIComponent(`${site}/loggedout.html`)}`);
		await p2.waitForURL(`${site}/loggedout.html**`);
		assert.equal(await p2.locator('h1').textContent(), 'Signed out of the site');
		await p2.goto(url('/profile'));
		assert.equal(pathOf(p2), '/login', 'the usermgr session ended too');
		await p2.goto(`${site}/protected/index.shtml`);
		assert.equal(pathOf(p2), '/login', 'the protected page asks for a login again');

		assert.deepEqual(await cspViolations(p2), [], 'no CSP violation on the way');
		assert.deepEqual(unexpected(problems2), []);
		assert.deepEqual(unexpected(problems), []);
		await ctx2.close();
	});
});

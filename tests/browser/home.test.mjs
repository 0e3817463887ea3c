// home.test: the welcome page as a browser sees it — title, stylesheet, nav, no console or CSP errors, screenshots.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { collectProblems, cspViolations, launch, shot, url, watchCsp } from './lib.mjs';

describe('home page', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	test('the home page renders with its stylesheet applied', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		await watchCsp(context);
		const page = await context.newPage();
		const problems = collectProblems(page);

		const res = await page.goto(url('/'), { waitUntil: 'load' });
		assert.equal(res.status(), 200, 'GET / answers 200');
		assert.equal(await page.title(), 'Welcome · usermgr');

		// The stylesheet came from /static/style.css and its rules are reachable from the page.
		const sheet = await page.evaluate(() => {
			const s = [...document.styleSheets].find((x) => x.href && new URL(x.href).pathname === '/static/style.css');
			return s ? { rules: s.cssRules.length, hasBody: [...s.cssRules].some((r) => r.selectorText === 'body') } : null;
		});
		assert.ok(sheet, 'document.styleSheets holds /static/style.css');
		assert.ok(sheet.rules > 20, `the stylesheet has its rules (got ${sheet.rules})`);
		assert.ok(sheet.hasBody, 'the stylesheet has a body rule');

		// Computed styles prove the rules apply: the custom property, the system font stack, the card.
		const styles = await page.evaluate(() => {
			const root = getComputedStyle(document.documentElement);
			const body = getComputedStyle(document.body);
			const card = document.querySelector('.card');
			return {
				formWidth: root.getPropertyValue('--form-width').trim(),
				fontFamily: body.fontFamily,
				bodyMargin: body.margin,
				cardRadius: card ? getComputedStyle(card).borderTopLeftRadius : null,
			};
		});
		assert.equal(styles.formWidth, '28rem', 'the --form-width custom property is set');
		assert.match(styles.fontFamily, /^system-ui/, 'body uses the system font stack');
		assert.equal(styles.bodyMargin, '0px', 'the default body margin is reset');
		assert.equal(styles.cardRadius, '12px', 'cards get their rounded corners');

		// The anonymous nav and the calls to action.
		const nav = page.getByRole('navigation', { name: 'Main' });
		assert.equal(await nav.getByRole('link', { name: 'Log in' }).getAttribute('href'), '/login');
		assert.equal(await nav.getByRole('link', { name: 'Register' }).getAttribute('href'), '/register');
		assert.equal(await page.getByRole('link', { name: 'usermgr' }).getAttribute('href'), '/');
		assert.equal(await page.locator('main#main').count(), 1, 'one main landmark with id main');
		assert.equal(await page.getByRole('link', { name: 'Skip to main content' }).getAttribute('href'), '#main');
		assert.equal(await page.locator('[style]').count(), 0, 'no inline style attributes (CSP style-src self)');
		assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline scripts');

		await page.screenshot({ path: shot('home.png'), fullPage: true });

		await page.setViewportSize({ width: 375, height: 740 });
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		assert.equal(overflow, 0, 'nothing scrolls sideways at 375 px');
		await page.screenshot({ path: shot('home-mobile.png'), fullPage: true });

		assert.deepEqual(await cspViolations(page), [], 'no CSP violations');
		assert.deepEqual(problems, [], 'no console errors, page errors or failed requests');
		await context.close();
	});

	test('the skip link becomes visible and moves focus to the main content', async () => {
		const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
		const page = await context.newPage();
		await page.goto(url('/'));
		const skip = page.getByRole('link', { name: 'Skip to main content' });
		const hiddenTop = await skip.evaluate((el) => el.getBoundingClientRect().bottom);
		assert.ok(hiddenTop <= 0, 'the skip link is off-screen until focused');
		await page.keyboard.press('Tab');
		assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to main content');
		const shownTop = await skip.evaluate((el) => el.getBoundingClientRect().top);
		assert.ok(shownTop >= 0, 'the focused skip link is on screen');
		const outline = await skip.evaluate((el) => getComputedStyle(el).outlineStyle);
		assert.equal(outline, 'solid', 'keyboard focus draws a visible outline');
		await page.keyboard.press('Enter');
		assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
		await context.close();
	});

	test('the dark colour scheme swaps the palette', async () => {
		// static/style.css: :root's light colours, replaced as a set under prefers-color-scheme: dark.
		const palettes = {
			light: { background: 'rgb(244, 246, 249)', text: 'rgb(26, 31, 41)', surface: 'rgb(255, 255, 255)', link: 'rgb(31, 72, 181)' },
			dark: { background: 'rgb(15, 18, 23)', text: 'rgb(231, 234, 240)', surface: 'rgb(24, 28, 35)', link: 'rgb(157, 188, 255)' },
		};
		for (const [scheme, want] of Object.entries(palettes)) {
			const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
			const page = await context.newPage();
			await page.goto(url('/'));
			const got = await page.evaluate(() => {
				const body = getComputedStyle(document.body);
				const card = document.querySelector('.card');
				const link = document.querySelector('main a[href="/forgot-password"]');
				return {
					background: body.backgroundColor,
					text: body.color,
					surface: card ? getComputedStyle(card).backgroundColor : null,
					link: link ? getComputedStyle(link).color : null,
				};
			});
			assert.deepEqual(got, want, `the ${scheme} palette: body background and text, card surface, link colour`);
			await page.screenshot({ path: shot(`home-${scheme}.png`), fullPage: true });
			await context.close();
		}
	});
});

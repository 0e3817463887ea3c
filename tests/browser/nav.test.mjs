// nav.test: the header's links on every page, light and dark — legible, and the current page's button still a button.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { adminPassword, logInAdmin } from './flows.mjs';
import { launch, shot, url, watchCsp } from './lib.mjs';

// Pages a visitor sees, then pages of a signed-in admin; each with the nav item it marks current.
const ANONYMOUS = [['/', null], ['/login', 'Log in'], ['/register', 'Register'], ['/forgot-password', null]];
const SIGNED_IN = [['/profile', 'Profile'], ['/account/security', 'Security'], ['/admin/users', 'Admin']];

/**
 * Every link and button of the main nav as the page paints it: its text, whether it is the
 * current page's, its class, colours (the background is the first opaque one from the element
 * up), corner radius, and the WCAG 2.x contrast ratio of text to background.
 */
async function navItems(page) {
	return page.locator('nav[aria-label="Main"]').evaluate((nav) => {
		const rgb = (s) => {
			const m = s.match(/rgba?\(([^)]+)\)/);
			const [r, g, b, a = 1] = m[1].split(',').map((x) => parseFloat(x));
			return { r, g, b, a };
		};
		const lum = ({ r, g, b }) => {
			const f = (v) => {
				const c = v / 255;
				return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
			};
			return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
		};
		const background = (el) => {
			for (let e = el; e; e = e.parentElement) {
				const c = getComputedStyle(e).backgroundColor;
				if (rgb(c).a > 0) return c;
			}
			return 'rgb(255, 255, 255)';
		};
		return [...nav.querySelectorAll('a, button')].map((el) => {
			const style = getComputedStyle(el);
			const bg = background(el);
			const [l1, l2] = [lum(rgb(style.color)), lum(rgb(bg))].sort((x, y) => y - x);
			return {
				text: el.textContent.trim(),
				current: el.getAttribute('aria-current') === 'page',
				button: el.classList.contains('button'),
				color: style.color,
				background: bg,
				radius: style.borderTopLeftRadius,
				contrast: Math.round(((l1 + 0.05) / (l2 + 0.05)) * 100) / 100,
			};
		});
	});
}

describe('header navigation', () => {
	let browser;

	before(async () => {
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	for (const scheme of ['light', 'dark']) {
		test(`every page's header links are legible and the current page's button keeps its look (${scheme})`, { timeout: 60_000 }, async () => {
			assert.ok(adminPassword, 'tests/run passes USERMGR_TEST_ADMIN_PASSWORD');
			const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 1280, height: 800 } });
			await watchCsp(context);
			const page = await context.newPage();
			page.setDefaultTimeout(15_000);
			const looks = {};
			const visit = async (path, currentText) => {
				await page.goto(url(path));
				const items = await navItems(page);
				assert.ok(items.length >= 2, `${path} has a header nav`);
				for (const item of items) {
					// WCAG 2.1 AA, 1.4.3: 4.5:1 for text of this size.
					assert.ok(item.contrast >= 4.5,
						`${path} (${scheme}): "${item.text}" has a contrast of ${item.contrast}:1 (${item.color} on ${item.background})`);
					if (item.button) {
						// A button looks the same on every page, its own included.
						const look = { color: item.color, background: item.background, radius: item.radius };
						looks[item.text] ??= { path, look };
						assert.deepEqual(look, looks[item.text].look,
							`${path} (${scheme}): "${item.text}" looks as it does on ${looks[item.text].path}`);
						assert.notEqual(item.radius, '0px', `${path} (${scheme}): "${item.text}" keeps its rounded corners`);
					}
				}
				assert.deepEqual(items.filter((i) => i.current).map((i) => i.text), currentText ? [currentText] : [],
					`${path} marks ${currentText ?? 'no item'} as the current page`);
			};
			for (const [path, current] of ANONYMOUS) await visit(path, current);
			assert.ok(looks.Register, 'the Register button was seen');
			await page.goto(url('/register'));
			await page.locator('header').screenshot({ path: shot(`nav-register-${scheme}.png`) });
			await logInAdmin(page);
			for (const [path, current] of SIGNED_IN) await visit(path, current);
			assert.ok(looks['Log out'], 'the Log out button was seen');
			await context.close();
		});
	}
});

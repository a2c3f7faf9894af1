// The pages as each role reaches them (its navigation, its account, a
// refused filter, and one of each record page it may read) and the sign-in
// page, at a desktop's 1280 px and a phone's 390 px, on the shared test
// installation, on a fresh one (empty states) and on the demo (its played
// day): none may be wider than the screen, no control may sit on another,
// no page has more than two filled (main) buttons, the queue fits 1280 px
// with one line per dispute, every image and chart has a text alternative,
// and axe-core finds no accessibility violation. A screenshot of each is
// kept with the results.
import AxeBuilder from '@axe-core/playwright';
import type { Browser, Page } from '@playwright/test';

import * as installations from '../installations';
import { accounts, type Role } from './accounts';
import { expect, openDispute, signIn, test } from './fixtures';
import { postCase } from './providers';

const ROLES: Role[] = ['analyst', 'ops', 'admin'];
const WIDTHS = [1280, 390];

/** The pages `role` reaches: its navigation, its account, and one of each record page it may read. */
async function pagesOf(page: Page, role: Role): Promise<string[]> {
  const paths = [
    '/disputes',
    '/deadlines',
    '/dashboard',
    '/account',
    '/disputes?status=any&flag=disagrees',
    '/disputes?currency=US',
    '/account/password',
  ];
  if (role !== 'analyst') paths.push('/deliveries', '/providers', '/queries', '/jobs', '/replays');
  if (role === 'admin') paths.push('/connections', '/connections/new', '/users', '/audit', '/rebuilds', '/letters');
  const first = async (list: string, pattern: RegExp) => {
    await page.goto(list);
    const hrefs = await page.locator('main a[href]').evaluateAll((links) =>
      links.map((a) => a.getAttribute('href') ?? ''),
    );
    return hrefs.find((href) => pattern.test(href));
  };
  const dispute = await first('/disputes?status=any', /^\/disputes\/\d+$/);
  if (dispute) paths.push(dispute);
  // The confirmation page is the same for every role that reaches it.
  if (dispute && role === 'analyst') paths.push(`${dispute}/decide/outside`);
  if (role !== 'analyst') {
    const delivery = await first('/deliveries', /^\/deliveries\/\d+$/);
    if (delivery) paths.push(delivery);
  }
  if (role === 'admin') {
    const connection = await first('/connections', /^\/connections\/[a-z0-9-]+$/);
    if (connection) paths.push(connection);
  }
  return paths;
}

/** The address of the PayerMax inquiry's response, prepared if it has none. */
async function responsePage(page: Page): Promise<string> {
  await openDispute(page, 'O20230501010101000000000042');
  const panel = page.getByRole('region', { name: 'Response' });
  const existing = panel.getByRole('link', { name: /Open the response/ });
  if (await existing.count()) await existing.click();
  else await panel.getByRole('button', { name: 'Prepare a response' }).click();
  await expect(page).toHaveURL(/\/responses\/\d+$/);
  return new URL(page.url()).pathname;
}

/** What is wrong with the page at `path` at `width` px, in words. */
async function problemsOf(page: Page, path: string, width: number, name: string): Promise<string[]> {
  const problems: string[] = [];
  const response = await page.goto(path);
  expect(response?.status(), path).toBe(200);
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  if (wide > width) problems.push(`${path} at ${width} px is ${wide} px wide`);
  // An empty page still says something: what will show here, and how.
  const said = await page.locator('main').evaluate((main) => {
    const heading = main.querySelector('h1')?.textContent ?? '';
    return (main.textContent ?? '').replace(heading, '').trim().length;
  });
  if (said === 0) problems.push(`${path} at ${width} px shows nothing under its heading`);
  const unnamed = await page.locator('img, svg').evaluateAll(
    (images) =>
      images.filter((image) =>
        image.tagName.toLowerCase() === 'img'
          ? !image.hasAttribute('alt')
          : !image.closest('[aria-hidden="true"], [role="img"][aria-label]'),
      ).length,
  );
  if (unnamed > 0) problems.push(`${path} at ${width} px: ${unnamed} images or charts without a text alternative`);
  for (const overlap of await overlappingControls(page)) {
    problems.push(`${path} at ${width} px: ${overlap}`);
  }
  const filled = await page.evaluate(() => {
    const accent = 'rgb(31, 95, 191)';
    return [...document.querySelectorAll('main button, main a.button')]
      .filter((b) => getComputedStyle(b).backgroundColor === accent && (b as HTMLElement).offsetParent !== null)
      .map((b) => (b.textContent ?? '').trim());
  });
  if (filled.length > 2) problems.push(`${path}: ${filled.length} filled buttons (${filled.join(', ')}); one main action per form, the rest outlined`);
  if (width >= 1280) {
    const queue = await page.evaluate(() => {
      const wrap = document.querySelector<HTMLElement>('.table-wrap:has(table.queue)');
      if (!wrap) return null;
      const rows = [...wrap.querySelectorAll<HTMLElement>('tbody tr')].map((r) => r.offsetHeight);
      return { over: wrap.scrollWidth - wrap.clientWidth, tallest: Math.max(0, ...rows) };
    });
    if (queue && queue.over > 0) problems.push(`${path} at ${width} px: the queue scrolls sideways by ${queue.over} px`);
    if (queue && queue.tallest > 48) problems.push(`${path} at ${width} px: a queue row is ${queue.tallest} px tall, not one line`);
  }
  const axe = await new AxeBuilder({ page }).analyze();
  for (const v of axe.violations) {
    problems.push(`${path} at ${width} px: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  await page.screenshot({ path: test.info().outputPath(`${name}-${width}-${slug(path)}.png`), fullPage: true });
  return problems;
}

/** Controls drawn on top of each other (buttons, links drawn as buttons, fields), in words. */
async function overlappingControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const controls = [
      ...document.querySelectorAll<HTMLElement>(
        'button, a.button, input:not([type="hidden"]), select, textarea, summary, header nav a',
      ),
    ]
      .map((element) => ({ element, box: element.getBoundingClientRect() }))
      // A closed menu's links keep their boxes but are not drawn.
      .filter(({ element, box }) => box.width > 0 && box.height > 0 && element.checkVisibility({ visibilityProperty: true }));
    const name = (e: HTMLElement) =>
      `${e.tagName.toLowerCase()} "${(e.textContent || e.getAttribute('aria-label') || e.getAttribute('name') || '').trim().slice(0, 40)}"`;
    const found: string[] = [];
    controls.forEach((a, i) => {
      for (const b of controls.slice(i + 1)) {
        if (a.element.contains(b.element) || b.element.contains(a.element)) continue;
        const across = Math.min(a.box.right, b.box.right) - Math.max(a.box.left, b.box.left);
        const down = Math.min(a.box.bottom, b.box.bottom) - Math.max(a.box.top, b.box.top);
        if (across > 1 && down > 1) found.push(`${name(a.element)} overlaps ${name(b.element)}`);
      }
    });
    return found;
  });
}

test('the sign-in page fits the screen and passes axe', async ({ page }) => {
  const problems: string[] = [];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    problems.push(...(await problemsOf(page, '/login', width, 'signed-out')));
  }
  expect(problems, problems.join('\n')).toEqual([]);
});

const slug = (path: string) => path.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '') || 'home';

for (const role of ROLES) {
  test(`every page an ${role} reaches fits the screen, names its images and passes axe`, async ({
    page,
    request,
  }) => {
    test.setTimeout(180_000);
    for (const id of ['pp-chargeback', 'botim-chargeback', 'pm-inquiry-wrapped']) {
      expect(await postCase(request, id), id).toBe(200);
    }
    await signIn(page, role);
    const paths = await pagesOf(page, role);
    expect(paths.some((p) => /^\/disputes\/\d+$/.test(p)), 'a dispute page is among them').toBe(true);
    paths.push(await responsePage(page));

    const problems: string[] = [];
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const path of paths) {
        problems.push(...(await problemsOf(page, path, width, role)));
      }
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
}

/** Every page `role` reaches on the installation at `url`, swept at both widths. */
async function sweep(browser: Browser, url: string, role: Role, name: string, signedIn?: (page: Page) => Promise<void>) {
  const context = await browser.newContext({ baseURL: url, timezoneId: 'UTC' });
  const page = await context.newPage();
  if (signedIn) await signedIn(page);
  else await signIn(page, role);
  const paths = await pagesOf(page, role);
  const problems: string[] = [];
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    for (const path of paths) {
      problems.push(...(await problemsOf(page, path, width, name)));
    }
  }
  await context.close();
  return problems;
}

test.describe('on a fresh installation', () => {
  test.describe.configure({ mode: 'serial' });
  let fresh: installations.Installation;
  test.beforeAll(async () => {
    fresh = await installations.empty();
  });
  test.afterAll(async () => {
    await fresh?.stop();
  });

  for (const role of ROLES) {
    test(`every page an ${role} reaches says it is empty, fits the screen and passes axe`, async ({ browser }) => {
      test.setTimeout(180_000);
      const problems = await sweep(browser, fresh.url, role, `fresh-${role}`);
      expect(problems, problems.join('\n')).toEqual([]);
    });
  }
});

test.describe('on the demo', () => {
  test.describe.configure({ mode: 'serial' });
  let demo: installations.Installation;
  test.beforeAll(async () => {
    test.setTimeout(180_000);
    demo = await installations.demo();
  });
  test.afterAll(async () => {
    await demo?.stop();
  });

  test('every page each role reaches fits the screen and passes axe', async ({ browser }) => {
    test.setTimeout(300_000);
    const admin = async (page: Page) => {
      await page.goto('/login');
      await page.getByLabel('Email').fill('demo-admin@example.com');
      await page.getByLabel('Password').fill(demo.password ?? '');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('heading', { level: 1 })).toHaveText('Disputes');
    };
    const problems = await sweep(browser, demo.url, 'admin', 'demo-admin', admin);

    // The admin adds an analyst and an ops person, who choose their own
    // passwords at their first sign-in, as a new team member would.
    for (const role of ['analyst', 'ops'] as const) {
      const context = await browser.newContext({ baseURL: demo.url, timezoneId: 'UTC' });
      const page = await context.newPage();
      await admin(page);
      await page.goto('/users');
      const form = page.locator('form', { has: page.getByRole('button', { name: 'Add', exact: true }) });
      await form.getByLabel('Email').fill(accounts[role].email);
      await form.getByLabel('Name').fill(`Demo ${role}`);
      await form.getByRole('combobox', { name: 'Role' }).selectOption(role);
      await form.getByLabel(/Temporary password/).fill('a temporary password');
      await form.getByRole('button', { name: 'Add', exact: true }).click();
      await context.close();
      const signedIn = async (page: Page) => {
        await page.goto('/login');
        await page.getByLabel('Email').fill(accounts[role].email);
        await page.getByLabel('Password').fill('a temporary password');
        await page.getByRole('button', { name: 'Sign in' }).click();
        await expect(page.getByRole('heading', { level: 1 })).toHaveText('Change your password');
        await page.getByLabel('Current password').fill('a temporary password');
        await page.getByLabel('New password (at least 12 characters)').fill(accounts[role].password);
        await page.getByLabel('New password again').fill(accounts[role].password);
        await page.getByRole('button', { name: 'Change password' }).click();
        await expect(page.getByRole('heading', { level: 1 })).toHaveText('Disputes');
      };
      problems.push(...(await sweep(browser, demo.url, role, `demo-${role}`, signedIn)));
    }
    expect(problems, problems.join('\n')).toEqual([]);
  });
});

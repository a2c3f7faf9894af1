import { expect, signIn, test } from './fixtures';

const sections = [
  'Disputes',
  'Deadlines',
  'Dashboard',
  'Delivery history',
  'Provider health',
  'Status queries',
  'Jobs',
  'Connections',
  'Users',
  'Audit log',
  'Rebuild disputes',
];
const menus: [string, string[]][] = [
  ['Operations', ['Delivery history', 'Provider health', 'Status queries', 'Jobs']],
  ['Admin', ['Connections', 'Users', 'Audit log', 'Rebuild disputes']],
];

for (const javaScriptEnabled of [true, false]) {
  test.describe(`with JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, () => {
    test.use({ javaScriptEnabled });

    test('every navigation link leads to its page', async ({ page }) => {
      await page.goto('/');
      await expect(page).toHaveURL(/\/login\?next=%2F$/);
      await signIn(page, 'admin');

      const nav = page.getByRole('navigation', { name: 'Main' });
      // Ops' and admins' pages sit in menus, so the bar fits one line.
      await expect(nav.getByRole('link')).toHaveText(sections.slice(0, 3));
      const open = async (section: string) => {
        const menu = menus.find(([, inside]) => inside.includes(section));
        const link = nav.getByRole('link', { name: section, exact: true });
        if (menu && !(await link.isVisible())) await nav.getByText(menu[0], { exact: true }).click();
      };

      for (const section of sections) {
        await open(section);
        await nav.getByRole('link', { name: section, exact: true }).click();
        await expect(page.getByRole('heading', { level: 1 })).toHaveText(section);
        await expect(page).toHaveTitle(`${section} · Dispute Desk`);
        await open(section);
        await expect(nav.getByRole('link', { name: section, exact: true })).toHaveAttribute(
          'aria-current',
          'page',
        );
      }
      const bar = await page.locator('header.topbar').boundingBox();
      expect(bar?.height, 'the bar is one line at 1280 px').toBeLessThan(60);
    });
  });
}

test('the stylesheet applies', async ({ page }) => {
  await page.goto('/login');
  const background = await page
    .locator('header.topbar')
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(background).toBe('rgb(29, 36, 48)');
});

test('an unknown address answers 404 with the not-found page', async ({ page }) => {
  await signIn(page, 'analyst');
  const response = await page.goto('/no/such/page');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Page not found');
  await page.getByRole('link', { name: 'Disputes', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Disputes');
});

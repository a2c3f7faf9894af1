import { accounts } from './accounts';
import { expect, test } from './fixtures';

// A new account reads times in its browser's zone from its first sign-in;
// without scripts it keeps UTC until its person picks a zone.
test.describe('a first sign-in in Dubai', () => {
  test.use({ timezoneId: 'Asia/Dubai' });

  test('takes the browser’s time zone', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('Email').fill(accounts.newcomer.email);
    await page.getByLabel('Password').fill(accounts.newcomer.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('status')).toContainText(
      "Times are shown in Asia/Dubai, your browser's time zone",
    );
    await expect(page.locator('footer.zone-note')).toContainText('Times are in Asia/Dubai (UTC+04)');
  });
});

test.describe('a first sign-in in Dubai without JavaScript', () => {
  test.use({ timezoneId: 'Asia/Dubai', javaScriptEnabled: false });

  test('keeps UTC', async ({ page }) => {
    await page.goto('/login');
    await page.getByLabel('Email').fill(accounts.scriptless.email);
    await page.getByLabel('Password').fill(accounts.scriptless.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Disputes');
    await expect(page.locator('footer.zone-note')).toHaveText('Times are in UTC. Change time zone');
  });
});

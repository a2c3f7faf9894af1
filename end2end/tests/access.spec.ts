import { expect, signIn, test } from './fixtures';

test('an analyst sees no admin navigation and is refused the admin pages', async ({ page }) => {
  await signIn(page, 'analyst');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link')).toHaveText(['Disputes', 'Deadlines', 'Dashboard']);

  for (const path of ['/connections', '/users', '/audit', '/deliveries']) {
    const response = await page.goto(path);
    expect(response?.status(), path).toBe(403);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not allowed');
  }
});

test('signing out ends the session', async ({ page }) => {
  await signIn(page, 'ops');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
  await page.goto('/disputes');
  await expect(page).toHaveURL(/\/login\?next=%2Fdisputes$/);
});

test('a wrong password is refused with the generic message', async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Email').fill('analyst@example.com');
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toContainText('Sign-in failed');
});

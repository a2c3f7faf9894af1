// "Query status now" in a real browser with JavaScript off, against the
// provider simulator: the lost-notification story has left PPLOST001 at its
// request for information, while PingPong knows of the chargeback that was
// never notified. Asking puts the pulled event on the timeline and flags the
// disagreement; the queue's filter finds it; ops sees the query.
import { expect, openDispute, signIn, test } from './fixtures';

test.describe('status queries without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('an analyst asks the provider, sees the pulled event and the disagreement flag', async ({ page }) => {
    await signIn(page, 'analyst');
    await openDispute(page, 'PPLOST001');
    const disputePage = page.url();
    await expect(page.getByText('Retrieval request').first()).toBeVisible();
    await expect(page.getByText('provider disagrees')).toHaveCount(0);
    await expect(page.getByText('The provider has not been asked about this dispute.')).toBeVisible();

    await page.getByRole('button', { name: 'Query status now' }).click();
    await expect(page).toHaveURL(disputePage);
    await expect(page.locator('.flash')).toContainText('Asking PingPong Checkout where the dispute stands');

    // The question is asked off the request; the page refreshes itself
    // (no script) until the answer is on it.
    const alert = page.getByRole('alert').filter({ hasText: 'provider disagrees' });
    await expect(alert).toBeVisible({ timeout: 15_000 });
    await expect(alert).toContainText('Notifications said');
    await expect(alert).toContainText('Retrieval request · Needs response');
    await expect(alert).toContainText('Chargeback · Needs response');

    const pulled = page.locator('tr', { hasText: 'from a status query' });
    await expect(pulled).toHaveCount(1);
    await expect(pulled).toContainText('asked by');
    await expect(page.getByText('pulled: a status query')).toBeVisible();
    await page.screenshot({ path: test.info().outputPath('queried-1280.png'), fullPage: true });

    // Asking again at once is refused: once a minute per dispute.
    await expect(page.getByText('where the dispute stands…')).toHaveCount(0);
    await page.getByRole('button', { name: 'Query status now' }).click();
    await expect(page.locator('.flash')).toContainText('less than a minute ago');
    await expect(page.locator('tr', { hasText: 'from a status query' })).toHaveCount(1);

    await page.goto('/disputes?status=any&flag=disagrees');
    await expect(page.getByRole('link', { name: 'PPLOST001' })).toBeVisible();
    await expect(page.getByText('provider disagrees').first()).toBeVisible();

    // Ops reads who asked, why, how it ended and what it changed.
    await page.context().clearCookies();
    await signIn(page, 'ops');
    await page.goto('/queries');
    const row = page.locator('tr', { hasText: 'PPLOST001' });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText('asked by an analyst');
    await expect(row).toContainText('Retrieval request · Needs response → Chargeback · Needs response');
  });
});

// The analyst's desk in a real browser with JavaScript off: disputes made
// by the providers' signed fixture notifications, the work queue filtered
// and saved as a view, a dispute's timeline, deadline and payments, a note
// and an assignment, the deadlines board and the dashboard following along.
// Screenshots of each page at 1280 and 390 px are kept with the results.
import type { Page } from '@playwright/test';

import { expect, signIn, test } from './fixtures';
import { postCase } from './providers';

const CHARGEBACK = '202303071954574059';

async function screenshots(page: Page, name: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    await page.screenshot({ path: test.info().outputPath(`${name}-${width}.png`), fullPage: true });
    if (width === 390) {
      // The navigation wraps inside the screen rather than running off it.
      for (const link of await page.getByRole('navigation', { name: 'Main' }).getByRole('link').all()) {
        const box = await link.boundingBox();
        expect(box && box.x + box.width).toBeLessThanOrEqual(390);
      }
    }
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

/** The number on the dashboard's "open disputes" tile. */
async function openDisputes(page: Page): Promise<number> {
  await page.goto('/dashboard');
  const tile = page.locator('.tile', { hasText: 'open disputes' }).locator('strong');
  return Number(await tile.textContent());
}

test.describe('the analyst desk without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('an analyst filters the queue, saves a view, works a dispute and sees the board and dashboard follow', async ({
    page,
    request,
  }) => {
    for (const id of ['pp-rfi', 'pp-chargeback', 'botim-chargeback', 'botim-unicode', 'pm-inquiry-wrapped']) {
      expect(await postCase(request, id), id).toBe(200);
    }
    await signIn(page, 'analyst');

    const queue = page.locator('table.data');
    await expect(queue.getByRole('link', { name: CHARGEBACK })).toBeVisible();
    await expect(queue.getByRole('link', { name: 'O1000' })).toBeVisible();
    await screenshots(page, 'queue');

    // The search is up front; the other filters are folded away.
    await expect(page.getByRole('combobox', { name: 'Provider', exact: true })).toBeHidden();
    await page.getByText('More filters').click();
    await page.getByRole('combobox', { name: 'Provider', exact: true }).selectOption('botim_money');
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(page).toHaveURL(/provider=botim_money/);
    await expect(queue.getByRole('link', { name: 'O1000' })).toBeVisible();
    await expect(queue.getByRole('link', { name: 'O1001' })).toBeVisible();
    await expect(queue.getByRole('link', { name: CHARGEBACK })).toHaveCount(0);

    await page.getByLabel('Save this view as').fill('Botim, needs a response');
    await page.getByRole('button', { name: 'Save view' }).click();
    await expect(page.getByRole('status')).toContainText('saved');
    await page.getByText('Saved views').click();
    await page.getByRole('link', { name: 'Botim, needs a response' }).click();
    await expect(page).toHaveURL(/provider=botim_money/);

    await page.goto('/disputes');
    await queue.getByRole('link', { name: CHARGEBACK }).click();
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(`Dispute ${CHARGEBACK}`);
    const summary = page.getByRole('region', { name: 'Summary' });
    await expect(summary).toContainText('Wed 5 Apr 2023, 23:59 UTC');
    await expect(summary).toContainText('overdue by');
    await expect(summary).toContainText('129.90 USD');
    await expect(page.getByRole('list', { name: 'Lifecycle' }).locator('[aria-current="step"]')).toHaveText(
      /Chargeback/,
    );
    await expect(page.locator('dl.facts')).toContainText('Visa · Consumer dispute');
    const events = page.locator('table.timeline tbody tr');
    await expect(events.nth(0)).toContainText('REQUEST_FOR_INFORMATION');
    await expect(events.nth(1)).toContainText('NOTIFICATION_OF_CHARGEBACK');
    await expect(page.locator('main')).toContainText('No transaction, refund, capture or void notification');

    await page.getByLabel('Add a note').fill('Asked the shop for proof of delivery.');
    await page.getByRole('button', { name: 'Add note' }).click();
    await expect(page.getByRole('status')).toHaveText('Note added');
    await expect(events.nth(2)).toContainText('Asked the shop for proof of delivery.');
    await page.getByRole('button', { name: 'Assign to me' }).click();
    await expect(page.getByRole('status')).toHaveText('The dispute has a new owner');
    await expect(events.nth(3)).toContainText('Assigned to');
    await screenshots(page, 'dispute');

    await page.goto('/disputes?assignee=me');
    await expect(queue.getByRole('link', { name: CHARGEBACK })).toBeVisible();

    await page.goto('/deadlines');
    await expect(page.getByRole('region', { name: 'Overdue' })).toContainText(CHARGEBACK);
    const undated = page.getByRole('region', { name: 'Needs a response, no deadline given' });
    await expect(undated).toContainText('O1000');
    await expect(undated).toContainText('AED');
    await screenshots(page, 'board');

    const before = await openDisputes(page);
    await expect(page.locator('main')).toContainText('Open disputes by stage and status');
    await screenshots(page, 'dashboard');
    expect(await postCase(request, 'pp-fraud-alert')).toBe(200);
    // The dashboard recomputes in the background once it sees the event.
    await expect.poll(() => openDisputes(page), { timeout: 15_000 }).toBe(before + 1);
  });
});

import { describe, expect, it } from 'vitest';
import { plan } from '../../src/upstream/text.js';
import { usePageHarness } from '../../testkit/page-harness.js';

describe('the demo page survives a restart of the replica serving it (headless Chromium)', () => {
  const h = usePageHarness();

  it('a plain EventSource reconnects with Last-Event-ID and the page ends with the full text', async () => {
    const svc = await h.service();
    const first = await svc.start('demo-1');
    const page = await h.browser.newPage();
    await page.goto(`http://127.0.0.1:${svc.port}/`);
    const prompt = 'Explain how a pod drains before it is replaced, slowly.';
    const maxTokens = 300; // 7.5 s at 40 tokens/s: longer than the 5 s shutdown budget
    await page.fill('#prompt', prompt);
    await page.fill('#max', String(maxTokens));
    await page.click('button[type=submit]');
    await page.waitForFunction(`document.getElementById('out').textContent.length > 100`);

    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const stateAfterExit = await page.getAttribute('#status', 'data-state');
    const second = await svc.start('demo-2');

    await page.waitForSelector('#status[data-state="done"]', { timeout: 40_000 });
    const text = await page.textContent('#out');
    const reference = plan([{ role: 'user', content: prompt }], maxTokens).tokens.join('');
    expect(stateAfterExit).toBe('reconnecting');
    expect(text).toBe(reference);
    expect(second.logs.some((l) => l.msg === 'took over a stream generation')).toBe(true);
  });

  it('the Responses tab resumes a background response with starting_after and ends with the full text', async () => {
    const svc = await h.service();
    const first = await svc.start('demo-r1');
    const page = await h.browser.newPage();
    await page.goto(`http://127.0.0.1:${svc.port}/`);
    await page.click('button[data-tab="responses"]');
    const prompt = 'Explain how a background response survives a rolling restart, slowly.';
    const maxTokens = 300;
    await page.fill('#r-prompt', prompt);
    await page.fill('#r-max', String(maxTokens));
    await page.click('#ask-responses button[type=submit]');
    await page.waitForFunction(`document.getElementById('r-out').textContent.length > 100`);

    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const stateAfterExit = await page.getAttribute('#r-status', 'data-state');
    await svc.start('demo-r2');

    await page.waitForSelector('#r-status[data-state="done"]', { timeout: 40_000 });
    const reference = plan([{ role: 'user', content: prompt }], maxTokens).tokens.join('');
    expect(stateAfterExit).toBe('reconnecting');
    expect(await page.textContent('#r-out')).toBe(reference);
    expect(await page.textContent('#r-status')).toMatch(/done: (completed|incomplete)/);
  });
});

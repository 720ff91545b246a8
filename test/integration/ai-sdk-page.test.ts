import { describe, expect, it } from 'vitest';
import { plan } from '../../src/upstream/text.js';
import { usePageHarness } from '../../testkit/page-harness.js';

const KEY = 'page-key-0123456789abcdefghijk';

describe('the AI SDK page (useChat with resume: true) survives a restart of the replica serving it (headless Chromium)', () => {
  const h = usePageHarness();

  it('the replica is restarted mid-answer, the page reloads, and it ends with the full answer; the key never goes in a URL', async () => {
    const svc = await h.service({ API_KEYS: `page:${KEY}` });
    const first = await svc.start('page-1');
    const page = await h.browser.newPage();
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`http://127.0.0.1:${svc.port}/ai-sdk`);
    // The chat id is in the URL, so a reload finds the chat.
    await page.waitForURL(/[?&]chat=[0-9a-f]{24}/);
    const chatUrl = page.url();
    const prompt = 'Explain how a pod drains before it is replaced, slowly.';
    const maxTokens = 300; // 7.5 s at 40 tokens/s: longer than the 5 s shutdown budget
    await page.fill('#key', KEY);
    await page.fill('#prompt', prompt);
    await page.fill('#max', String(maxTokens));
    await page.click('#send');
    await page.waitForFunction(`(document.getElementById('out')?.textContent ?? '').length > 100`);

    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    // The POST's answer ended without `finish`: the page knows it is not done.
    expect(await page.getAttribute('#status', 'data-state')).not.toBe('done');
    const second = await svc.start('page-2');

    await page.reload();
    expect(page.url()).toBe(chatUrl);
    await page.waitForSelector('#status[data-state="done"]', { timeout: 40_000 });
    const reference = plan([{ role: 'user', content: prompt }], maxTokens).tokens.join('');
    expect(await page.textContent('#out')).toBe(reference);
    // One user message and one answer: the resumed replay replaced the partial answer, it was not appended.
    const roles = await Promise.all((await page.locator('.msg').all()).map((el) => el.getAttribute('data-role')));
    expect(roles).toEqual(['user', 'assistant']);
    expect(second.logs.some((l) => l.msg === 'took over a stream generation')).toBe(true);
    expect(urls.some((u) => u.includes('/v1/ai-sdk/chat/') && u.endsWith('/stream'))).toBe(true);
    expect(urls.filter((u) => u.includes(KEY) || u.includes(encodeURIComponent(KEY)))).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('without a reload, the page resumes by itself once a replica answers again', async () => {
    const svc = await h.service();
    const first = await svc.start('page-3');
    const page = await h.browser.newPage();
    await page.goto(`http://127.0.0.1:${svc.port}/ai-sdk`);
    const prompt = 'Tell me, slowly, what a rolling restart does to a stream.';
    const maxTokens = 300;
    await page.fill('#prompt', prompt);
    await page.fill('#max', String(maxTokens));
    await page.click('#send');
    await page.waitForFunction(`(document.getElementById('out')?.textContent ?? '').length > 100`);
    first.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    await page.waitForSelector('#status[data-state="resuming"]', { timeout: 5_000 });
    await svc.start('page-4');
    await page.waitForSelector('#status[data-state="done"]', { timeout: 40_000 });
    expect(await page.textContent('#out')).toBe(plan([{ role: 'user', content: prompt }], maxTokens).tokens.join(''));
  });
});

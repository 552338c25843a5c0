import puppeteer from 'puppeteer-core';

const which = process.argv[2];
const t0 = Date.now();
try {
  const b =
    which === 'chromium'
      ? await puppeteer.launch({
          browser: 'chrome',
          executablePath: '/usr/lib/chromium/chromium-headless-shell',
          headless: 'shell',
          args: ['--no-sandbox', '--enable-unsafe-webgpu'],
        })
      : await puppeteer.launch({
          browser: 'firefox',
          executablePath: '/usr/bin/firefox-esr',
          headless: true,
          extraPrefsFirefox: { 'dom.webgpu.enabled': true, 'gfx.webgpu.ignore-blocklist': true },
        });
  const p = await b.newPage();
  await p.goto('http://127.0.0.1:8417/');
  console.log(
    which,
    await p.evaluate(async () => {
      const a = await navigator.gpu?.requestAdapter();
      return a
        ? JSON.stringify({
            f: [...a.features],
            i: a.info && { v: a.info.vendor, a: a.info.architecture, d: a.info.description },
            l: a.limits.maxStorageBufferBindingSize,
          })
        : 'no adapter';
    }),
  );
  await b.close();
} catch (e) {
  console.log(which, 'FAILED', e.message.slice(0, 500));
}
console.log('ms', Date.now() - t0);

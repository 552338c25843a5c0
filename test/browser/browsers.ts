/**
 * The browsers the browser tests drive, and how: Debian's chromium-headless-shell (WebGPU on SwiftShader) and
 * firefox-esr (WebGPU on the system lavapipe), both through puppeteer-core (CDP for Chromium, WebDriver BiDi for
 * Firefox: Playwright's Firefox driver needs Playwright's own patched Firefox). Never a browser download.
 * `npm run setup` installs both on Debian/Ubuntu as root; CHROMIUM_PATH / FIREFOX_PATH point elsewhere.
 */
import { existsSync } from 'node:fs';
import puppeteer, { type Browser } from 'puppeteer-core';

export interface BrowserKind {
  name: 'chromium' | 'firefox';
  /** The executable, or null when it is not installed. */
  executable: string | null;
  /** What to install when it is missing. */
  install: string;
}

function firstExisting(paths: (string | undefined)[]): string | null {
  return paths.find((p): p is string => !!p && existsSync(p)) ?? null;
}

export const BROWSERS: BrowserKind[] = [
  {
    name: 'chromium',
    executable: firstExisting([process.env.CHROMIUM_PATH, '/usr/lib/chromium/chromium-headless-shell']),
    install:
      "Debian/Ubuntu: 'apt-get install chromium-headless-shell' (or run 'npm run setup' as root); or set CHROMIUM_PATH",
  },
  {
    name: 'firefox',
    executable: firstExisting([process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox']),
    install: "Debian: 'apt-get install firefox-esr' (or run 'npm run setup' as root); or set FIREFOX_PATH",
  },
];

export async function launch(kind: BrowserKind): Promise<Browser> {
  if (!kind.executable) throw new Error(`${kind.name} is not installed: ${kind.install}`);
  if (kind.name === 'chromium') {
    // The page must come from http://127.0.0.1 (a secure context), not about:blank, for navigator.gpu.
    return puppeteer.launch({
      browser: 'chrome',
      executablePath: kind.executable,
      headless: 'shell',
      args: ['--no-sandbox', '--enable-unsafe-webgpu'],
      protocolTimeout: 600_000,
    });
  }
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: kind.executable,
    headless: true,
    extraPrefsFirefox: { 'dom.webgpu.enabled': true, 'gfx.webgpu.ignore-blocklist': true },
    protocolTimeout: 600_000,
  });
}

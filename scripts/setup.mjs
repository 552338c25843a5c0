#!/usr/bin/env node
// One-stop set-up for a fresh machine, run by `npm test`, `npm run demo` and `npm run bench`.
// Plain Node, no dependencies (it runs before `npm install`). Idempotent, and quick when all is there:
//   1. npm dependencies: `npm ci` when node_modules is missing or older than package-lock.json;
//   2. a WebGPU adapter: probe Dawn in a child process; on Debian/Ubuntu without one, as root, install Mesa's
//      lavapipe (Vulkan on the CPU), from bookworm-backports on Debian 12 whose own Mesa Dawn rejects;
//      anywhere else print exactly what to install and exit non-zero;
//   3. browsers with WebGPU for the browser tests: on Debian as root, chromium-headless-shell and firefox-esr
//      (apt); elsewhere print what to install (the browser tests then report themselves as not run).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const log = (msg) => {
  if (!quiet) console.error(`[setup] ${msg}`);
};
const fail = (msg) => {
  console.error(`\n[setup] ${msg}\n`);
  process.exit(1);
};

function ensureNodeModules() {
  const lock = join(root, 'package-lock.json');
  const stamp = join(root, 'node_modules', '.package-lock.json');
  const fresh =
    existsSync(stamp) &&
    existsSync(join(root, 'node_modules', 'webgpu')) &&
    (!existsSync(lock) || statSync(stamp).mtimeMs >= statSync(lock).mtimeMs);
  if (fresh) return;
  log('installing npm dependencies (npm ci)…');
  const r = spawnSync('npm', [existsSync(lock) ? 'ci' : 'install', '--no-audit', '--no-fund'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0) fail('npm dependency installation failed (see the npm output above).');
}

/** Ask Dawn for an adapter in a child process, so a crash or hang in a driver cannot take this script down. */
function probeAdapter() {
  const code = `
    import { create, globals } from 'webgpu';
    Object.assign(globalThis, globals);
    const gpu = create([]);
    const a = await gpu.requestAdapter();
    if (!a) { console.log('NO_ADAPTER'); process.exit(3); }
    const i = a.info ?? {};
    console.log('ADAPTER ' + [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' | '));
    process.exit(0);`;
  const env = { ...process.env };
  if (!env.XDG_RUNTIME_DIR) env.XDG_RUNTIME_DIR = mkdtempSync(join(tmpdir(), 'xdg-'));
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('ADAPTER '));
  return line ? line.slice('ADAPTER '.length) : null;
}

function osRelease() {
  try {
    const out = {};
    for (const l of readFileSync('/etc/os-release', 'utf8').split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(l);
      if (m) out[m[1]] = m[2].replace(/^"|"$/g, '');
    }
    return out;
  } catch {
    return {};
  }
}

/** The URIs and Signed-By of the distribution's main archive, read from the machine's own apt sources. */
function debianMirror() {
  const deb822 = '/etc/apt/sources.list.d/debian.sources';
  if (existsSync(deb822)) {
    for (const stanza of readFileSync(deb822, 'utf8').split(/\n\s*\n/)) {
      const field = (k) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
      const uris = field('URIs');
      const suites = field('Suites') ?? '';
      if (uris && !/security/.test(suites) && !/security/.test(uris)) return { uris, signedBy: field('Signed-By') };
    }
  }
  if (existsSync('/etc/apt/sources.list')) {
    for (const l of readFileSync('/etc/apt/sources.list', 'utf8').split('\n')) {
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(l.trim());
      if (m && !/security/.test(m[2]) && !/security/.test(m[3])) {
        const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
        return { uris: m[2], signedBy };
      }
    }
  }
  return null;
}

function run(cmd, args) {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) fail(`command failed: ${cmd} ${args.join(' ')}`);
}

function candidateMesaMajor() {
  try {
    const out = execFileSync('apt-cache', ['policy', 'mesa-vulkan-drivers'], { encoding: 'utf8' });
    const m = /Candidate:\s*(?:\d+:)?(\d+)\./.exec(out);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const manualHelp = `No WebGPU adapter was found, and this script cannot install one on this system.
Dawn (the 'webgpu' npm package) needs one of:
  - Linux: a Vulkan driver. Without a GPU, install Mesa's lavapipe >= 24 (package 'mesa-vulkan-drivers' plus
    'libvulkan1'). On Debian 12 (bookworm) the distribution's Mesa 22.3 is rejected by Dawn: take it from
    bookworm-backports (apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1).
    Fedora: dnf install mesa-vulkan-drivers vulkan-loader.  Arch: pacman -S vulkan-swrast vulkan-icd-loader.
  - macOS: Metal is built in (Apple silicon or a recent Intel Mac).
  - Windows: an up-to-date GPU driver (D3D12 or Vulkan).
Then run this command again. To choose a backend/adapter, see WEBGPU_BACKEND / WEBGPU_ADAPTER in README.md.`;

function installLavapipe() {
  const os = osRelease();
  const isDebianLike = /debian|ubuntu/.test(`${os.ID ?? ''} ${os.ID_LIKE ?? ''}`);
  if (process.platform !== 'linux' || !isDebianLike) fail(manualHelp);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const codename = os.VERSION_CODENAME;
  if (!isRoot) {
    fail(`${manualHelp}\n\nOn this ${os.PRETTY_NAME ?? 'Debian/Ubuntu'} machine, as root:
  ${os.ID === 'debian' && codename === 'bookworm' ? 'add bookworm-backports to the apt sources, then ' : ''}apt-get install -y ${
    os.ID === 'debian' && codename === 'bookworm' ? '-t bookworm-backports ' : ''
  }mesa-vulkan-drivers libvulkan1
or run this script as root and it will do it.`);
  }
  log(`no WebGPU adapter: installing Mesa lavapipe on ${os.PRETTY_NAME ?? 'this machine'} (as root)…`);
  run('apt-get', ['update', '-q']);
  let target = [];
  if (candidateMesaMajor() < 24) {
    if (os.ID !== 'debian' || !codename) fail(`${manualHelp}\n\n(the distribution's Mesa is older than 24)`);
    const mirror = debianMirror();
    if (!mirror) fail(`${manualHelp}\n\n(could not find the Debian mirror in /etc/apt/sources.list*)`);
    const file = '/etc/apt/sources.list.d/backports.sources';
    const want = [
      'Types: deb',
      `URIs: ${mirror.uris}`,
      `Suites: ${codename}-backports`,
      'Components: main',
      ...(mirror.signedBy ? [`Signed-By: ${mirror.signedBy}`] : []),
      '',
    ].join('\n');
    if (!existsSync(file) || readFileSync(file, 'utf8') !== want) {
      log(`adding ${codename}-backports (${mirror.uris}) in ${file}`);
      writeFileSync(file, want);
      run('apt-get', ['update', '-q']);
    }
    target = ['-t', `${codename}-backports`];
  }
  run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...target, 'mesa-vulkan-drivers', 'libvulkan1']);
}

const BROWSERS = [
  {
    name: 'Chromium (headless shell)',
    paths: ['/usr/lib/chromium/chromium-headless-shell'],
    pkg: 'chromium-headless-shell',
  },
  { name: 'Firefox ESR', paths: ['/usr/bin/firefox-esr', '/usr/bin/firefox'], pkg: 'firefox-esr' },
];

/** The browser tests' browsers: installed with apt on Debian as root, else named (the tests then say "not run"). */
function ensureBrowsers() {
  const missing = BROWSERS.filter((b) => !b.paths.some((p) => existsSync(p)));
  if (missing.length === 0) return;
  const os = osRelease();
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const pkgs = missing.map((b) => b.pkg);
  if (process.platform === 'linux' && os.ID === 'debian' && isRoot) {
    log(`installing browsers for the browser tests: ${pkgs.join(', ')}`);
    run('apt-get', ['update', '-q']);
    run('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...pkgs]);
    return;
  }
  console.error(
    `[setup] the browser tests will not run: ${missing.map((b) => b.name).join(' and ')} not found.\n` +
      `[setup]   Debian (as root): apt-get install -y --no-install-recommends ${pkgs.join(' ')}\n` +
      '[setup]   elsewhere: set CHROMIUM_PATH to a Chromium/Chrome with WebGPU (--enable-unsafe-webgpu) and\n' +
      '[setup]   FIREFOX_PATH to a Firefox ≥ 141 (WebGPU); the tests never download a browser.',
  );
}

ensureNodeModules();
let adapter = probeAdapter();
if (!adapter) {
  installLavapipe();
  adapter = probeAdapter();
  if (!adapter) fail(`Mesa lavapipe was installed but Dawn still finds no adapter.\n${manualHelp}`);
}
log(`WebGPU adapter: ${adapter}`);
if (!process.argv.includes('--no-browsers')) ensureBrowsers();

// Opens convlab's HTML reports from the file system in a real headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core from web/node_modules), waits for every chart,
// takes a full-page screenshot beside each page, and fails unless every chart drew data: each
// Vega view's inline datasets are non-empty and each of its data marks has items, with no
// console error, page error or network request leaving the file system. Also parses a JUnit
// file with the browser's XML parser (strict, as a CI consumer's) and checks its structure
// against report.json's expectations.
//
// node check_pages.cjs --web WEB_DIR --chromium PATH [--junit FILE --report JSON] PAGE.html...
'use strict';
const path = require('path');
const fs = require('fs');
const { pathToFileURL } = require('url');

function parseArgs(argv) {
  const a = { pages: [] };
  for (let i = 0; i < argv.length; ++i) {
    const k = argv[i];
    if (k === '--web' || k === '--chromium' || k === '--junit' || k === '--report') a[k.slice(2)] = argv[++i];
    else a.pages.push(k);
  }
  return a;
}

const failures = [];
function check(ok, what) {
  if (!ok) failures.push(what);
  return ok;
}

// Runs in the page: per chart, its inline datasets' sizes and its data marks' item counts.
async function inspectCharts() {
  const state = window.convlabCharts;
  await state.ready;
  const out = { expected: state.expected, slots: document.querySelectorAll('.chart').length, errors: state.errors, charts: [] };
  for (const id of Object.keys(state.views)) {
    const view = state.views[id];
    const spec = state.specs[id];
    const datasets = (spec.data || []).filter((d) => Array.isArray(d.values))
      .map((d) => ({ name: d.name, rows: view.data(d.name).length }));
    const marks = [];
    const walk = (node) => {
      if (!node || !node.items) return;
      if (node.marktype && node.marktype !== 'group' && node.role === 'mark') {
        marks.push({ name: node.name || '', type: node.marktype, items: node.items.length });
      }
      for (const child of node.items) {
        if (child && child.items) walk(child);
      }
    };
    walk(view.scenegraph().root);
    const svg = document.querySelector('#' + CSS.escape(id) + ' svg');
    out.charts.push({ id, datasets, marks, svg: !!svg, width: svg ? svg.getBoundingClientRect().width : 0 });
  }
  return out;
}

function parseJunit(xml) {
  const doc = new DOMParser().parseFromString(xml, 'application/xml');
  const err = doc.getElementsByTagName('parsererror');
  if (err.length) return { error: err[0].textContent };
  const root = doc.documentElement;
  const suites = [];
  for (const s of root.children) {
    const cases = [];
    for (const c of s.children) {
      const f = c.getElementsByTagName('failure')[0];
      cases.push({ tag: c.tagName, classname: c.getAttribute('classname'), name: c.getAttribute('name'),
                   failure: f ? f.getAttribute('message') : null });
    }
    suites.push({ tag: s.tagName, name: s.getAttribute('name'), tests: Number(s.getAttribute('tests')),
                  failures: Number(s.getAttribute('failures')), cases });
  }
  return { root: root.tagName, tests: Number(root.getAttribute('tests')), failures: Number(root.getAttribute('failures')), suites };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { chromium } = require(path.join(args.web, 'node_modules', 'playwright-core'));
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    for (const file of args.pages) {
      const name = path.relative(process.cwd(), file);
      const context = await browser.newContext({ viewport: { width: 1400, height: 1000 }, deviceScaleFactor: 1 });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (m) => { if (m.type() === 'error') problems.push('console error: ' + m.text()); });
      page.on('pageerror', (e) => problems.push('page error: ' + e.message));
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file:')) return route.continue();
        problems.push('network request (the page must be self-contained): ' + url);
        return route.abort();
      });
      await page.goto(pathToFileURL(path.resolve(file)).href, { waitUntil: 'load' });
      await page.waitForFunction(() => window.convlabCharts !== undefined, null, { timeout: 60000 });
      const r = await page.evaluate(inspectCharts);
      const shot = file.replace(/\.html$/, '') + '.png';
      await page.screenshot({ path: shot, fullPage: true });
      let marks = 0;
      let rows = 0;
      check(r.expected > 0, `${name}: no charts`);
      check(r.charts.length === r.expected, `${name}: ${r.charts.length} of ${r.expected} charts rendered`);
      check(r.slots === r.expected, `${name}: ${r.slots} chart slots for ${r.expected} charts`);
      check(r.errors.length === 0, `${name}: chart errors: ${r.errors.join('; ')}`);
      for (const c of r.charts) {
        check(c.svg && c.width > 50, `${name}#${c.id}: no SVG drawn`);
        check(c.datasets.length > 0, `${name}#${c.id}: no inline dataset`);
        for (const d of c.datasets) {
          check(d.rows > 0, `${name}#${c.id}: dataset ${d.name} is empty`);
          rows += d.rows;
        }
        check(c.marks.length > 0, `${name}#${c.id}: no data marks`);
        for (const m of c.marks) {
          check(m.items > 0, `${name}#${c.id}: ${m.type} mark ${m.name} drew nothing`);
          marks += m.items;
        }
      }
      // A run's page shows min–max over seeds under each key figure of several seeds, and a
      // failed `all` names its seeds.
      const figures = await page.evaluate(() => ({
        tables: document.querySelectorAll('table.figures').length,
        ranges: document.querySelectorAll('table.figures .range').length,
        failedAll: [...document.querySelectorAll('ul.verdicts li.failed')].map((li) => li.textContent)
          .filter((t) => / all /.test(t)),
      }));
      if (figures.tables > 0 && name.startsWith('run')) {
        check(figures.ranges > 0, `${name}: no min–max over seeds in the key figures`);
        for (const t of figures.failedAll) check(/seeds? failed: seed \d+ = /.test(t), `${name}: failed all names no seed: ${t}`);
      }
      for (const p of problems) check(false, `${name}: ${p}`);
      console.log(`${name}: ${r.charts.length} charts, ${rows} data rows, ${marks} mark items; screenshot ${shot}`);
      await context.close();
    }
    if (args.junit) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const j = await page.evaluate(parseJunit, fs.readFileSync(args.junit, 'utf8'));
      await context.close();
      const report = JSON.parse(fs.readFileSync(args.report, 'utf8'));
      const verdicts = report.expectations;
      if (check(!j.error, `${args.junit}: not well-formed XML: ${j.error}`)) {
        check(j.root === 'testsuites', `${args.junit}: root is <${j.root}>`);
        const cases = j.suites.flatMap((s) => s.cases);
        const failed = cases.filter((c) => c.failure !== null);
        check(j.tests === verdicts.length && cases.length === verdicts.length,
              `${args.junit}: ${cases.length} testcases (tests=${j.tests}) for ${verdicts.length} expectations`);
        const expectedFailed = verdicts.filter((v) => !v.held);
        check(j.failures === expectedFailed.length && failed.length === expectedFailed.length,
              `${args.junit}: ${failed.length} failures (failures=${j.failures}), report.json has ${expectedFailed.length}`);
        for (const s of j.suites) {
          check(s.tag === 'testsuite', `${args.junit}: <${s.tag}> under <testsuites>`);
          check(s.tests === s.cases.length, `${args.junit}: suite ${s.name} says tests=${s.tests}, has ${s.cases.length}`);
          check(s.failures === s.cases.filter((c) => c.failure !== null).length, `${args.junit}: suite ${s.name} failure count`);
          for (const c of s.cases) {
            check(c.tag === 'testcase' && c.classname === s.name && c.name, `${args.junit}: bad testcase in ${s.name}`);
          }
        }
        // Every expectation is one testcase named by variant, strategy and expectation; a failed
        // one carries its message.
        for (const v of verdicts) {
          const name = `${v.variant} / ${v.strategy}: ${v.metric} ${v.expect}`;
          const c = cases.find((x) => x.classname === v.scenario && x.name === name);
          if (!check(c, `${args.junit}: no testcase ${v.scenario} / ${name}`)) continue;
          if (v.held) {
            check(c.failure === null, `${args.junit}: ${name} held but has a failure`);
          } else {
            check(c.failure && c.failure.includes(`${v.metric} ${v.expect}`) && c.failure.includes(v.where),
                  `${args.junit}: ${name} failure message lacks the expectation or its place: ${c.failure}`);
            if (v.quantifier === 'all' || v.quantifier === 'any') {
              const first = (v.failed_seeds || [])[0];
              check(first && c.failure.includes(`seed ${first.seed} = `),
                    `${args.junit}: ${name} failure message does not name the failing seeds: ${c.failure}`);
            }
          }
        }
        console.log(`${args.junit}: ${cases.length} testcases in ${j.suites.length} suites, ${failed.length} failures; matches report.json`);
      }
      // report.json carries the chart series per scenario x variant x strategy.
      let windows = 0;
      for (const g of report.aggregates) {
        const at = `${args.report}: ${g.scenario}/${g.variant}/${g.strategy}`;
        const sr = g.series;
        if (!check(sr && sr.visibility_cdf && sr.divergence && Array.isArray(sr.fault_windows), `${at}: no series`)) continue;
        const cdf = sr.visibility_cdf.ms;
        check(cdf.length === 0 || cdf.length === 100, `${at}: CDF has ${cdf.length} percentiles`);
        check(cdf.every((v, i) => i === 0 || v >= cdf[i - 1]), `${at}: CDF decreases`);
        const d = sr.divergence;
        check(d.pending_edits.length === Math.ceil(d.end_ms / d.bin_ms) && d.lagging_clients.length === d.pending_edits.length,
              `${at}: ${d.pending_edits.length} bins for ${d.end_ms} ms in ${d.bin_ms} ms bins`);
        check(d.pending_edits.every((v, i) => v >= d.lagging_clients[i] - 1e-9), `${at}: more lagging clients than pending pairs`);
        for (const w of sr.fault_windows) {
          check(w.start_ms <= w.end_ms && w.runs >= 1 && w.runs <= sr.runs && w.kind, `${at}: bad fault window ${JSON.stringify(w)}`);
        }
        windows += sr.fault_windows.length;
      }
      check(windows > 0, `${args.report}: no fault window in any aggregate (random-faults has some)`);
      console.log(`${args.report}: series in all ${report.aggregates.length} aggregates, ${windows} fault windows`);
    }
  } finally {
    await browser.close();
  }
  if (failures.length) {
    for (const f of failures) console.error('FAIL ' + f);
    process.exit(1);
  }
  console.log('all pages drew every chart');
}

main().catch((e) => { console.error(e); process.exit(1); });

import fs from 'node:fs';
import os from 'node:os';

/** What tests create in the temp folder: service data dirs, PostgreSQL clusters, fixtures. */
const OURS = /^lastcall-/;

const ours = () => new Set(fs.readdirSync(os.tmpdir()).filter((n) => OURS.test(n)));

/**
 * The run fails if it leaves anything of ours in the temp folder: on a machine that runs the
 * tests often, data dirs of 40 MB each fill the disk.
 */
export default function setup() {
  const before = ours();
  return () => {
    const left = [...ours()].filter((n) => !before.has(n));
    if (left.length === 0) return;
    process.stderr.write(`FAIL: the test run left ${left.length} folder(s) in ${os.tmpdir()}: ${left.slice(0, 10).join(', ')}\n`);
    process.exitCode = 1;
  };
}

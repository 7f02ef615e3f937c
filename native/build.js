'use strict';
// npm install / npm ci: build the malloc_trim addon (native/malloc_trim.c) with npm's node-gyp.
// A machine without a C compiler still installs: the server then runs without idle trimming and
// says so at start. BAYLINE_NATIVE=require makes a failed build fail the install (CI sets it).
const { spawnSync } = require('node:child_process');

const r = spawnSync('node-gyp', ['rebuild', '--directory', __dirname], {
  stdio: ['ignore', 'ignore', 'pipe'],
  encoding: 'utf8',
  shell: process.platform === 'win32',
});
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`;
  process.stderr.write(`${r.stderr ?? ''}\n`);
  process.stderr.write(
    `bayline: the malloc_trim addon was not built (${why}); the server will run without idle memory trimming\n`,
  );
  if (process.env.BAYLINE_NATIVE === 'require') process.exit(1);
}

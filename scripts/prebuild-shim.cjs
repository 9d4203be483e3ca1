#!/usr/bin/env node
// prebuildify -> cmake-js. prebuildify only knows node-gyp: it spawns $PREBUILD_NODE_GYP with
// node-gyp's arguments ('rebuild --target=<v> --devdir=<dir> --arch=<a> --release|--debug') and
// then collects build/{Release,Debug}/*.node. Node-API needs no target or devdir (cmake-js takes
// the headers from the node-api-headers package), so only --debug is passed on.
'use strict';
const { spawnSync } = require('node:child_process');

const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const args = [cmakeJs, 'rebuild', '--log-level', 'warn', ...(process.argv.includes('--debug') ? ['--debug'] : [])];
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);

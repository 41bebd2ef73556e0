// Bundles the built agent (tsc's dist/agent/cli.js and everything it imports, node_modules included)
// into dist/agent/cli.js and its chunks dist/agent/bundle-*.js. Everything that runs the
// agent (the .deb, `npm start`, the tests, the benches) runs this bundle.
//
// Why (issue 23, BENCHMARKS.md "Session 9"): V8 keeps the source text of every loaded module on the
// heap for lazy compilation. The agent loads ~240 of its own modules and ~300 of its dependencies';
// the bundle holds the same code in 2.9 MB against 4.4 MB for every chunk. Side by side the 64-bed
// ward's old generation fell from 21-23 to 17-18 MB and its RSS by 3-5 MB at 600 s, and the 1-obs
// end-to-end peak by 17 MB; alone, the ward's 600 s figure stayed at 125 MB (the freed heap shows up
// as external memory and malloc instead).
//
// Whitespace and syntax only: identifiers keep their names, so error messages, logs and stack
// traces still name classes and functions. Renaming them too saves 0.8 MB more of source but needs
// esbuild's keepNames to keep `.name`, and keepNames cost the ward 22 MB of RSS (a defineProperty on
// every function object, closures made per message included; measured, BENCHMARKS.md).
//
// Node's TLS, HTTPS, HTTP/2, DNS and zlib modules are loaded on first use when a dependency
// require()s them (lazyBuiltins below). fastify requires https and http2 at load for servers the
// agent makes only with TLS (or never); ws requires tls, https and zlib for its client and for
// permessage-deflate, which the agent never uses. tls, https and http2 cost a bare node with the
// agent's other builtins 2.9 MB (OpenSSL's TLS code paged in, Node's modules compiled), and the
// 64-bed ward 2-4 MB of resident memory, side by side (BENCHMARKS.md, session 10). The agent's
// own modules load node:tls and node:https with process.getBuiltinModule() where TLS is configured.
//
// Kept outside the bundle: the native modules (their .node files are found by path from their own
// package), and the cloud writer (cloud/, loaded only by `bedside-hub cloud`, from tsc's output).
import { readdirSync, rmSync } from 'node:fs'
import { build } from 'esbuild'

const out = 'dist/agent'

/** Builtins that dependencies' require() calls get as a proxy that loads the module on first use. */
const LAZY_BUILTINS = ['tls', 'https', 'http2', 'dns', 'zlib']

/**
 * require('tls') (or 'node:tls') from a dependency resolves to a module whose exports forward every
 * access to process.getBuiltinModule('node:tls'), called at the first access. A dependency that
 * destructures the module at load (`const { connect } = require('tls')`) loads it then, as before.
 * What differs from the module itself: its identity (the proxy is not the builtin's object), and
 * freezing or sealing the proxy, which no dependency does.
 */
const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    const filter = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`)
    b.onResolve({ filter }, (args) => (args.kind === 'require-call' ? { path: args.path.replace(/^node:/, ''), namespace: 'lazy-builtin' } : undefined))
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let m;const load=()=>(m??=process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)}));
module.exports=new Proxy({},{get:(_,k)=>load()[k],has:(_,k)=>k in load(),set:(_,k,v)=>((load()[k]=v),true),
defineProperty:(_,k,d)=>Reflect.defineProperty(load(),k,d),deleteProperty:(_,k)=>Reflect.deleteProperty(load(),k),
ownKeys:()=>Reflect.ownKeys(load()),getOwnPropertyDescriptor:(_,k)=>{const d=Reflect.getOwnPropertyDescriptor(load(),k);if(d)d.configurable=true;return d}});`,
    }))
  },
}
for (const f of readdirSync(out)) if (f.startsWith('bundle-') && f.endsWith('.js')) rmSync(`${out}/${f}`)
rmSync(`${out}/cli.js.map`, { force: true }) // tsc's map of the file the bundle replaces

await build({
  entryPoints: { cli: `${out}/cli.js` },
  outdir: out,
  allowOverwrite: true,
  bundle: true,
  splitting: true, // commands stay lazily loaded: `bedside-hub decode` does not load SQLite or Kafka
  chunkNames: 'bundle-[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node24',
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  external: ['better-sqlite3', 'serialport', '@serialport/*', '@stoprocent/*', 'bindings', '../cloud/*'],
  // Dependencies written as CommonJS call require(): give every ESM chunk one.
  banner: { js: "import{createRequire as __bundleRequire}from'node:module';const require=__bundleRequire(import.meta.url);" },
  plugins: [lazyBuiltins],
  logLevel: 'warning',
})

// Copies non-TypeScript assets that the built agent loads at run time (proto schema, dashboard page)
// next to the compiled code, so `dist/` runs on its own (the .deb ships dist/ and proto/).
import { cpSync, existsSync } from 'node:fs'
const assets = [['agent/serve/public', 'dist/agent/serve/public']]
for (const [from, to] of assets) if (existsSync(from)) cpSync(from, to, { recursive: true })

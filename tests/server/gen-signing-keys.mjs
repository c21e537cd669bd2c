// One-off generator for signing-keys.json: the provider's ID-token signing keys (an RS256 and
// an ES256 key per set). The server takes set 0 at start and the next set at every
// /test/rotate-keys, so tests still see new kids after a rotation.
//
// Generated once and committed rather than made at every start: Node 20's KeyObject JWK
// export can deadlock with the garbage collector finalising the key-generation job (seen
// under load: the server hung before printing READY).
//   node gen-signing-keys.mjs
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const SETS = 8;
const sets = [];
for (let i = 0; i < SETS; i += 1) {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  sets.push([
    { ...rsa, kid: `rs256-${randomUUID()}`, alg: 'RS256', use: 'sig' },
    { ...ec, kid: `es256-${randomUUID()}`, alg: 'ES256', use: 'sig' },
  ]);
}
writeFileSync(new URL('signing-keys.json', import.meta.url), `${JSON.stringify(sets, null, 1)}\n`);
console.log(`${SETS} key sets written`);

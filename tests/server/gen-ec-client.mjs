// One-off generator for ec-client.jwk.json / ec-client.key.pem: the P-256 key of the
// `private-key-es256-client` (private_key_jwt, ES256) and of the JWT bearer grant's issuer.
// The generated files are committed; re-run only to rotate the test key:
//   node gen-ec-client.mjs
import { generateKeyPairSync, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = privateKey.export({ format: 'jwk' });
const thumb = createHash('sha256')
  .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
  .digest('base64url');
const full = { ...jwk, kid: thumb, alg: 'ES256', use: 'sig' };
const here = new URL('.', import.meta.url);
writeFileSync(new URL('ec-client.jwk.json', here), `${JSON.stringify(full, null, 2)}\n`);
writeFileSync(new URL('ec-client.key.pem', here), privateKey.export({ format: 'pem', type: 'pkcs8' }));
console.log(`kid ${thumb}`);

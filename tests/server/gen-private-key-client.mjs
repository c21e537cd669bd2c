// One-off generator for private-key-client.jwk.json / private-key-client.key.pem.
// The generated files are committed; re-run only to rotate the test key:
//   node gen-private-key-client.mjs
import { generateKeyPairSync, createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = privateKey.export({ format: 'jwk' });
// RFC 7638 thumbprint as kid
const thumb = createHash('sha256')
  .update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n }))
  .digest('base64url');
const full = { ...jwk, kid: thumb, alg: 'RS256', use: 'sig' };
const here = new URL('.', import.meta.url);
writeFileSync(new URL('private-key-client.jwk.json', here), `${JSON.stringify(full, null, 2)}\n`);
writeFileSync(new URL('private-key-client.key.pem', here), privateKey.export({ format: 'pem', type: 'pkcs8' }));
console.log(`kid ${thumb}`);

// Test authorization server for the workspace integration tests.
//
// A thin node:http wrapper around panva's oidc-provider with:
//   * a password grant (Keycloak-like, user admin/admin),
//   * headless login + consent for the authorization code flow,
//   * test-only routes (device approval, session removal, protected
//     resource, request counters).
//
// Interface: see README.md. stdout carries exactly one line,
// `READY http://127.0.0.1:<port>`; everything else goes to stderr.

import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';
// oidc-provider's own DPoP proof validation, for the password grant below (the built-in
// grants bind tokens to the proof's key themselves).
import validateDpop from 'oidc-provider/lib/helpers/validate_dpop.js';
import { calculateJwkThumbprint, EmbeddedJWK, importJWK, jwtVerify } from 'jose';

import TestAdapter, {
  purgeGrant, sessionsForGrant, destroySession, keysForGrant,
} from './adapter.mjs';

const HOST = '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT ?? '0', 10) || 0;
const ACCESS_TOKEN_TTL = Number.parseInt(process.env.ACCESS_TOKEN_TTL ?? '5', 10) || 5;
const REFRESH_TOKEN_TTL = 24 * 60 * 60;
const LONG_TTL = 7 * 24 * 60 * 60;

const log = (...args) => console.error('[test-as]', ...args);

// --------------------------------------------------------------------------
// Lifecycle: exit on SIGTERM/SIGINT and when stdin reaches EOF.

let httpServer;
function shutdown(why) {
  log(`shutting down (${why})`);
  try {
    httpServer?.closeAllConnections?.();
    httpServer?.close();
    adminServer?.close();
  } catch { /* ignore */ }
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));
if (process.env.IGNORE_STDIN !== '1') {
  process.stdin.on('end', () => shutdown('stdin EOF'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}
process.stdout.on('error', () => { /* parent went away; stdin EOF handles exit */ });

// --------------------------------------------------------------------------
// Counters exposed at /test/stats.

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const BASE_GRANT_TYPES = [
  'password',
  'refresh_token',
  'client_credentials',
  'authorization_code',
  'urn:ietf:params:oauth:grant-type:device_code',
  JWT_BEARER,
  TOKEN_EXCHANGE,
];

// The device flow's polling interval (RFC 8628 §3.2), short for the tests. oidc-provider
// sends none and does not check polling speed; this server adds `interval` to the device
// authorization response and answers `slow_down` to a poll that comes sooner (§3.5).
const DEVICE_INTERVAL = 1;

function freshStats() {
  return {
    token: Object.fromEntries(BASE_GRANT_TYPES.map((g) => [g, 0])),
    resource: { ok: 0, unauthorized: 0, dpop_ok: 0, dpop_nonce_challenges: 0 },
    revocation: 0,
    introspection: 0,
    device_authorization: 0,
    userinfo: 0,
    jwks: 0,
    // Client authentication methods the server accepted, by endpoint route and method.
    client_auth: {},
    // Device grant polls, by user code: the server's clock (ms) at each poll.
    device_polls: {},
    // Token exchanges granted: the audience asked for, and the subject token's client.
    exchanges: [],
    // Error answers of the token endpoint, by OAuth error code.
    token_errors: {},
  };
}
let stats = freshStats();

// Refresh tokens whose session an administrator removed: refreshing one fails the way
// Keycloak words it, `invalid_grant: Session not active` (oidc-provider's own text is the
// generic "grant request is invalid").
const removedRefreshTokens = new Set();

// --------------------------------------------------------------------------
// Accounts.

const ACCOUNTS = {
  admin: {
    password: 'admin',
    claims: {
      sub: 'admin',
      name: 'Admin User',
      preferred_username: 'admin',
      email: 'admin@example.test',
      email_verified: true,
    },
  },
};

async function findAccount(_ctx, id) {
  const account = ACCOUNTS[id];
  if (!account) return undefined;
  return {
    accountId: id,
    async claims() {
      return { ...account.claims };
    },
  };
}

// --------------------------------------------------------------------------
// Keys and clients.

// Pre-generated key sets (see gen-signing-keys.mjs for why they are not made at start): set 0
// first, the next one at every rotation.
const SIGNING_KEY_SETS = JSON.parse(readFileSync(new URL('signing-keys.json', import.meta.url), 'utf8'));
let nextKeySet = 0;
function signingKeys() {
  const set = SIGNING_KEY_SETS[nextKeySet % SIGNING_KEY_SETS.length];
  nextKeySet += 1;
  return set.map((key) => ({ ...key }));
}

function privateKeyClientPublicJwk() {
  const file = new URL('private-key-client.jwk.json', import.meta.url);
  const { kty, n, e, kid, alg, use } = JSON.parse(readFileSync(file, 'utf8'));
  return { kty, n, e, kid, alg, use };
}

function ecClientPublicJwk() {
  const file = new URL('ec-client.jwk.json', import.meta.url);
  const { kty, crv, x, y, kid, alg, use } = JSON.parse(readFileSync(file, 'utf8'));
  return { kty, crv, x, y, kid, alg, use };
}

// The JWT bearer grant (RFC 7523 §2.1) trusts assertions from this issuer signed by the EC
// test key; their subject is the account the token is for.
const JWT_BEARER_ISSUER = 'svc@example.test';
// Device codes the next poll must answer with `slow_down` (set by a test route).
const slowDownNext = new Set();
const lastDevicePoll = new Map();

const REDIRECT_URIS = ['http://127.0.0.1/callback'];
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_GRANTS = ['password', 'refresh_token', 'authorization_code', DEVICE];

const common = {
  application_type: 'native', // RFC 8252: any port on loopback redirect URIs
  redirect_uris: REDIRECT_URIS,
  response_types: ['code'],
};

const CLIENTS = [
  { ...common, client_id: 'admin-cli', token_endpoint_auth_method: 'none', grant_types: USER_GRANTS },
  { ...common, client_id: 'admin-cli-rotating', token_endpoint_auth_method: 'none', grant_types: USER_GRANTS },
  // DPoP: the token endpoint demands a server nonce (RFC 9449 §8) from this client.
  { ...common, client_id: 'admin-cli-dpop-nonce', token_endpoint_auth_method: 'none', grant_types: USER_GRANTS },
  {
    ...common,
    client_id: 'basic-client',
    client_secret: 'basic-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [...USER_GRANTS, 'client_credentials'],
  },
  {
    ...common,
    client_id: 'post-client',
    client_secret: 'post-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: [...USER_GRANTS, 'client_credentials'],
  },
  {
    ...common,
    client_id: 'odd-secret-client',
    client_secret: 's3cr3t:with+special&chars/=',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [...USER_GRANTS, 'client_credentials'],
  },
  {
    ...common,
    client_id: 'jwt-secret-client',
    client_secret: 'jwt-secret-client-secret-0123456789abcdef',
    token_endpoint_auth_method: 'client_secret_jwt',
    grant_types: [...USER_GRANTS, 'client_credentials'],
  },
  {
    ...common,
    client_id: 'private-key-client',
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [privateKeyClientPublicJwk()] },
    grant_types: [...USER_GRANTS, 'client_credentials'],
  },
  {
    ...common,
    client_id: 'private-key-es256-client',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [ecClientPublicJwk()] },
    grant_types: [...USER_GRANTS, 'client_credentials', TOKEN_EXCHANGE],
  },
  {
    ...common,
    client_id: 'jwt-bearer-client',
    token_endpoint_auth_method: 'none',
    grant_types: [JWT_BEARER],
    response_types: [],
    redirect_uris: [],
  },
  {
    ...common,
    client_id: 'exchange-client',
    client_secret: 'exchange-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [TOKEN_EXCHANGE, 'client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
  {
    ...common,
    client_id: 'cc-client',
    client_secret: 'cc-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
];

// The client of a token request, before or after client authentication.
function dpopClientId(ctx) {
  return String(ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id ?? ctx.oidc?.body?.client_id ?? '');
}

// --------------------------------------------------------------------------
// Provider.

function buildProvider(issuer, keys) {
  const configuration = {
    adapter: TestAdapter,
    clients: CLIENTS,
    findAccount,
    jwks: { keys },
    cookies: {
      keys: ['test-as-cookie-key-0123456789', 'test-as-cookie-key-previous'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: {
      required: (_ctx, client) => client.clientAuthMethod === 'none',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      introspection: {
        enabled: true,
        // Any authenticated client (including public ones) may introspect any token.
        allowedPolicy: async () => true,
      },
      userinfo: { enabled: true },
      resourceIndicators: { enabled: false },
      dPoP: {
        enabled: true,
        nonceSecret: Buffer.alloc(32, 7),
        requireNonce: (ctx) => dpopClientId(ctx).endsWith('-dpop-nonce'),
      },
      pushedAuthorizationRequests: { enabled: true },
      requestObjects: { enabled: true },
    },
    ttl: {
      AccessToken: ACCESS_TOKEN_TTL,
      ClientCredentials: ACCESS_TOKEN_TTL,
      RefreshToken: REFRESH_TOKEN_TTL,
      AuthorizationCode: 60,
      DeviceCode: 600,
      IdToken: 3600,
      Interaction: 3600,
      Grant: LONG_TTL,
      Session: LONG_TTL,
    },
    // Keycloak-like: tokens are bound to the Grant (our "session"), not to
    // the browser session cookie.
    expiresWithSession: async () => false,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: (ctx) => ctx.oidc.client.clientId.endsWith('-rotating'),
    clientBasedCORS: () => true,
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.proxy = false;

  provider.registerGrantType('password', passwordGrant(provider), ['username', 'password', 'scope']);
  provider.registerGrantType(JWT_BEARER, jwtBearerGrant(provider), ['assertion', 'scope']);
  provider.registerGrantType(TOKEN_EXCHANGE, tokenExchangeGrant(provider), [
    'subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'audience',
    'requested_token_type', 'scope',
  ]);

  // The device flow's interval and slow_down (see DEVICE_INTERVAL): a poll that would be
  // answered `authorization_pending` is answered `slow_down` when it came too soon after the
  // last one, or when a test asked for it.
  provider.use(async (ctx, next) => {
    const arrived = Date.now();
    await next();
    const route = ctx.oidc?.route;
    if (route === 'device_authorization' && ctx.status === 200 && ctx.body) {
      ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
      return;
    }
    const deviceCode = ctx.oidc?.body?.device_code;
    if (route !== 'token' || ctx.oidc?.body?.grant_type !== DEVICE || !deviceCode) return;
    const code = await provider.DeviceCode.find(deviceCode, { ignoreExpiration: true });
    const userCode = code?.userCode ?? '(unknown)';
    (stats.device_polls[userCode] ??= []).push(arrived);
    const last = lastDevicePoll.get(deviceCode);
    lastDevicePoll.set(deviceCode, arrived);
    const tooSoon = last !== undefined && arrived - last < DEVICE_INTERVAL * 1000 - 50;
    if (ctx.body?.error === 'authorization_pending' && (slowDownNext.delete(userCode) || tooSoon)) {
      ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly' };
    }
  });

  // Request counters + session_state on every successful token response.
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    const method = ctx.oidc?.client?.clientAuthMethod;
    if (method && ctx.status < 400 && ['token', 'revocation', 'introspection', 'device_authorization', 'pushed_authorization_request'].includes(route)) {
      const byRoute = (stats.client_auth[route] ??= {});
      byRoute[method] = (byRoute[method] ?? 0) + 1;
    }
    if (route === 'token' && ctx.method === 'POST') {
      let gt = ctx.oidc?.body?.grant_type;
      if (Array.isArray(gt)) [gt] = gt;
      if (typeof gt !== 'string' || !gt) gt = '(missing)';
      stats.token[gt] = (stats.token[gt] ?? 0) + 1;

      const body = ctx.body;
      if (ctx.status >= 400 && typeof body?.error === 'string') {
        stats.token_errors[body.error] = (stats.token_errors[body.error] ?? 0) + 1;
      }
      let presented = ctx.oidc?.params?.refresh_token ?? ctx.oidc?.body?.refresh_token;
      if (Array.isArray(presented)) [presented] = presented;
      if (gt === 'refresh_token' && body?.error === 'invalid_grant' && removedRefreshTokens.has(presented)) {
        ctx.body = { ...body, error_description: 'Session not active' };
      }
      if (ctx.status === 200 && body && typeof body === 'object' && body.access_token && !body.session_state) {
        const grantId = ctx.oidc.entities?.Grant?.jti ?? ctx.oidc.entities?.AccessToken?.grantId;
        if (grantId) ctx.body = { ...body, session_state: grantId };
      }
    } else if (route === 'introspection') {
      stats.introspection += 1;
    } else if (route === 'revocation') {
      stats.revocation += 1;
    } else if (route === 'device_authorization') {
      stats.device_authorization += 1;
    } else if (route === 'userinfo') {
      stats.userinfo += 1;
    } else if (route === 'jwks') {
      stats.jwks += 1;
    }
  });

  return provider;
}

function passwordGrant(provider) {
  return async function passwordGrantHandler(ctx) {
    const { client, params } = ctx.oidc;

    const missing = ['username', 'password'].filter((p) => !params[p]);
    if (missing.length) {
      throw new errors.InvalidRequest(
        `missing required parameter${missing.length > 1 ? 's' : ''} '${missing.join("', '")}'`,
      );
    }

    const stored = ACCOUNTS[params.username];
    if (!stored || stored.password !== params.password) {
      // errors.InvalidGrant would hide the description ("grant request is invalid").
      throw new errors.CustomOIDCProviderError('invalid_grant', 'Invalid user credentials');
    }
    const dPoP = await validateDpop(provider, ctx);
    const accountId = params.username;
    const account = await findAccount(ctx, accountId);
    ctx.oidc.entity('Account', account);

    const scope = params.scope ? [...new Set(params.scope.split(' ').filter(Boolean))].join(' ') : 'profile email';
    const scopes = new Set(scope.split(' '));

    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    ctx.oidc.entity('Grant', grant);

    const authTime = Math.floor(Date.now() / 1000);
    const gty = 'password';

    const at = new provider.AccessToken({
      accountId,
      client,
      expiresWithSession: false,
      grantId,
      gty,
      scope: grant.getOIDCScopeFiltered(scopes),
    });
    if (dPoP) at.setThumbprint('jkt', dPoP.thumbprint);
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();

    let refreshToken;
    if (client.grantTypeAllowed('refresh_token')) {
      const rt = new provider.RefreshToken({
        accountId,
        acr: undefined,
        amr: ['pwd'],
        authTime,
        claims: undefined,
        client,
        expiresWithSession: false,
        grantId,
        gty,
        nonce: undefined,
        resource: undefined,
        rotations: 0,
        scope,
        sessionUid: undefined,
        sid: undefined,
        // RFC 9449 §5: a public client's refresh token is bound to the DPoP key.
        jkt: dPoP && client.clientAuthMethod === 'none' ? dPoP.thumbprint : undefined,
      });
      ctx.oidc.entity('RefreshToken', rt);
      refreshToken = await rt.save();
    }

    let idToken;
    if (scopes.has('openid')) {
      const token = new provider.IdToken({
        ...await account.claims('id_token', scope, {}, []),
        sub: accountId,
      }, { ctx });
      token.scope = grant.getOIDCScopeFiltered(scopes);
      token.mask = {};
      token.rejected = [];
      token.set('amr', ['pwd']);
      token.set('auth_time', authTime);
      idToken = await token.issue({ use: 'idtoken' });
    }

    ctx.body = Object.fromEntries(Object.entries({
      access_token: accessToken,
      expires_in: at.expiration,
      id_token: idToken,
      refresh_token: refreshToken,
      scope: at.scope || undefined,
      token_type: at.tokenType,
      session_state: grantId,
    }).filter(([, v]) => v !== undefined));
  };
}

// RFC 7523 §2.1: a signed assertion from JWT_BEARER_ISSUER, for the account in `sub`;
// each `jti` is accepted once.
const seenAssertionIds = new Set();
function jwtBearerGrant(provider) {
  return async function jwtBearerGrantHandler(ctx) {
    const { client, params } = ctx.oidc;
    if (!params.assertion) throw new errors.InvalidRequest("missing required parameter 'assertion'");
    const key = await importJWK(ecClientPublicJwk(), 'ES256');
    let payload;
    try {
      ({ payload } = await jwtVerify(params.assertion, key, {
        issuer: JWT_BEARER_ISSUER,
        audience: [provider.issuer, `${provider.issuer}/token`],
        algorithms: ['ES256'],
        maxTokenAge: '10m',
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (err) {
      throw new errors.CustomOIDCProviderError('invalid_grant', `assertion refused: ${err.code ?? err.message}`);
    }
    if (seenAssertionIds.has(payload.jti)) {
      throw new errors.CustomOIDCProviderError('invalid_grant', 'assertion jti already used');
    }
    seenAssertionIds.add(payload.jti);
    const accountId = payload.sub;
    if (!ACCOUNTS[accountId]) throw new errors.CustomOIDCProviderError('invalid_grant', 'unknown subject');
    const scope = params.scope ?? payload.scope ?? 'profile';
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    const grantId = await grant.save();
    const at = new provider.AccessToken({
      accountId, client, expiresWithSession: false, grantId, gty: 'jwt-bearer', scope: grant.getOIDCScopeFiltered(new Set(scope.split(' '))),
    });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();
    ctx.body = {
      access_token: accessToken, expires_in: at.expiration, token_type: at.tokenType, scope: at.scope || undefined,
    };
  };
}

// RFC 8693: exchanges an access token this server issued for a new one for `audience`.
function tokenExchangeGrant(provider) {
  return async function tokenExchangeGrantHandler(ctx) {
    const { client, params } = ctx.oidc;
    if (!params.subject_token || params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('subject_token of type access_token is required');
    }
    const subject = await lookupBearer(provider, params.subject_token);
    if (!subject) throw new errors.CustomOIDCProviderError('invalid_grant', 'subject_token is not active');
    const accountId = subject.accountId ?? `client:${subject.clientId}`;
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    const grantId = await grant.save();
    const at = new provider.AccessToken({
      accountId, client, expiresWithSession: false, grantId, gty: 'token-exchange', scope: subject.scope,
    });
    ctx.oidc.entity('AccessToken', at);
    const accessToken = await at.save();
    stats.exchanges.push({ audience: params.audience ?? null, subject_client: subject.clientId });
    ctx.body = {
      access_token: accessToken,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: at.expiration,
      scope: at.scope || undefined,
    };
  };
}

// --------------------------------------------------------------------------
// Test-only routes.

function readBody(req, limit = 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function readParams(req) {
  const raw = (await readBody(req)).toString('utf8');
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('application/json')) {
    try { return raw ? JSON.parse(raw) : {}; } catch { return {}; }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function send(res, status, body, headers = {}) {
  let payload = body;
  const h = { 'cache-control': 'no-store', ...headers };
  if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) {
    payload = JSON.stringify(body);
    h['content-type'] ??= 'application/json; charset=utf-8';
  } else if (typeof body === 'string') {
    h['content-type'] ??= 'text/plain; charset=utf-8';
  }
  res.writeHead(status, h);
  res.end(payload);
}

function normalizeUserCode(input) {
  return String(input).replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/\W/g, '');
}

async function lookupBearer(provider, value) {
  let token = await provider.AccessToken.find(value);
  if (!token) token = await provider.ClientCredentials.find(value);
  if (!token || !token.isValid) return undefined;
  if (token.grantId) {
    const grant = await provider.Grant.find(token.grantId);
    if (!grant) return undefined;
  }
  return token;
}

// DPoP proofs the resource accepted (jti replay check) and the nonce it hands out.
const seenProofIds = new Set();
let resourceNonceCounter = 0;
let resourceNonce = null;

// RFC 9449 §7: a DPoP-bound token must come as `Authorization: DPoP` with a proof of the key
// it is bound to, for this method and URL, with `ath`; `/resource/dpop-nonce` also demands
// the nonce it hands out (§9). Returns an error description, or null when the proof holds.
async function checkDpop(req, pathname, token, tokenValue, scheme) {
  if (scheme.toLowerCase() !== 'dpop') return 'a DPoP-bound token sent as Bearer';
  const proof = req.headers.dpop;
  if (!proof || Array.isArray(proof)) return 'no DPoP proof';
  let payload;
  let protectedHeader;
  try {
    ({ payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'] }));
  } catch (err) {
    return `proof does not verify: ${err.code ?? err.message}`;
  }
  if (payload.htm !== req.method) return 'htm mismatch';
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (payload.htu !== `${url.origin}${url.pathname}`) return `htu mismatch: ${payload.htu}`;
  const ath = createHash('sha256').update(tokenValue).digest('base64url');
  if (payload.ath !== ath) return 'ath mismatch';
  if (await calculateJwkThumbprint(protectedHeader.jwk) !== token.jkt) return 'proof key is not the bound key';
  if (typeof payload.jti !== 'string' || seenProofIds.has(payload.jti)) return 'jti missing or replayed';
  if (pathname === '/resource/dpop-nonce' && (resourceNonce === null || payload.nonce !== resourceNonce)) {
    return 'use_dpop_nonce';
  }
  seenProofIds.add(payload.jti);
  return null;
}

async function handleProtected(provider, req, res, pathname) {
  const body = (await readBody(req)).toString('utf8');
  const auth = req.headers.authorization ?? '';
  const m = /^(Bearer|DPoP)\s+(\S+)\s*$/i.exec(auth);
  if (!m) {
    stats.resource.unauthorized += 1;
    return send(res, 401, '', { 'www-authenticate': 'Bearer' });
  }
  const token = await lookupBearer(provider, m[2]);
  if (!token) {
    stats.resource.unauthorized += 1;
    return send(res, 401, '', { 'www-authenticate': 'Bearer error="invalid_token"' });
  }
  if (token.jkt || pathname === '/resource/dpop-nonce') {
    const refused = token.jkt ? await checkDpop(req, pathname, token, m[2], m[1]) : 'not DPoP-bound';
    if (refused === 'use_dpop_nonce') {
      stats.resource.dpop_nonce_challenges += 1;
      resourceNonceCounter += 1;
      resourceNonce = `rn-${resourceNonceCounter}`;
      return send(res, 401, '', {
        'www-authenticate': 'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"',
        'dpop-nonce': resourceNonce,
      });
    }
    if (refused) {
      stats.resource.unauthorized += 1;
      log(`resource refused a DPoP request: ${refused}`);
      return send(res, 401, '', { 'www-authenticate': `DPoP error="invalid_dpop_proof", error_description="${refused}"` });
    }
    stats.resource.dpop_ok += 1;
  }
  stats.resource.ok += 1;
  if (pathname === '/admin/realms/master/users/count') {
    return send(res, 200, '1', { 'content-type': 'application/json' });
  }
  return send(res, 200, {
    sub: token.accountId ?? null,
    client_id: token.clientId,
    scope: token.scope ?? null,
    path: pathname,
    method: req.method,
    dpop_bound: Boolean(token.jkt),
    body,
  });
}

async function handleInteraction(provider, req, res) {
  // Headless login as `admin` + consent to everything requested, in one step.
  const details = await provider.interactionDetails(req, res);
  const { params, prompt } = details;
  const accountId = 'admin';

  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (!grant || grant.accountId !== accountId) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }
  if (params.scope) grant.addOIDCScope(params.scope);
  const d = prompt?.details ?? {};
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
  if (d.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();

  await provider.interactionFinished(req, res, {
    login: { accountId, amr: ['pwd'] },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

async function handleDevice(provider, req, res, approve) {
  const params = await readParams(req);
  if (!params.user_code) return send(res, 400, { error: 'invalid_request', error_description: 'missing user_code' });
  const code = await provider.DeviceCode.findByUserCode(normalizeUserCode(params.user_code), { ignoreExpiration: true });
  if (!code) return send(res, 404, { error: 'not_found', error_description: 'unknown user_code' });
  if (code.isExpired) return send(res, 400, { error: 'expired_token', error_description: 'device code is expired' });
  if (code.accountId || code.error || code.consumed) {
    return send(res, 409, { error: 'already_used', error_description: 'user_code was already approved or denied' });
  }

  if (approve) {
    const accountId = 'admin';
    const scope = code.params?.scope ?? '';
    const grant = new provider.Grant({ accountId, clientId: code.clientId });
    if (scope) grant.addOIDCScope(scope);
    const grantId = await grant.save();
    Object.assign(code, {
      accountId,
      amr: ['pwd'],
      authTime: Math.floor(Date.now() / 1000),
      grantId,
      scope: scope || undefined,
      expiresWithSession: false,
    });
  } else {
    Object.assign(code, {
      error: 'access_denied',
      errorDescription: 'End-User aborted interaction',
    });
  }
  await code.save();
  return send(res, 200, { ok: true, approved: approve, client_id: code.clientId });
}

async function handleDeleteSession(provider, res, grantId) {
  for (const key of keysForGrant(grantId)) {
    if (key.startsWith('RefreshToken:')) removedRefreshTokens.add(key.slice('RefreshToken:'.length));
  }
  for (const sid of sessionsForGrant(grantId)) destroySession(sid);
  // Tokens/codes of every kind bound to the grant, then the grant itself.
  await Promise.all([
    provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode, provider.DeviceCode,
  ].map((model) => model.revokeByGrantId(grantId)));
  purgeGrant(grantId);
  await provider.Grant.adapter.destroy(grantId);
  res.writeHead(204);
  res.end();
}

async function route(provider, callback, req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const { pathname } = url;

  if (pathname === '/test/stats' && req.method === 'GET') {
    return send(res, 200, stats);
  }
  if (pathname === '/test/stats/reset' && req.method === 'POST') {
    stats = freshStats();
    return send(res, 200, stats);
  }
  if (pathname === '/test/rotate-keys' && req.method === 'POST') {
    return handleRotateKeys(res);
  }
  if (pathname === '/test/device/approve' && req.method === 'POST') {
    return handleDevice(provider, req, res, true);
  }
  if (pathname === '/test/device/deny' && req.method === 'POST') {
    return handleDevice(provider, req, res, false);
  }
  if (pathname === '/test/device/slow-down' && req.method === 'POST') {
    const params = await readParams(req);
    slowDownNext.add(normalizeUserCode(params.user_code ?? ''));
    return send(res, 200, { ok: true });
  }
  const del = /^\/admin\/realms\/master\/sessions\/([^/]+)$/.exec(pathname);
  if (del && req.method === 'DELETE') {
    return handleDeleteSession(provider, res, decodeURIComponent(del[1]));
  }
  if (pathname === '/resource' || pathname.startsWith('/resource/')
      || pathname === '/admin/realms/master/users/count') {
    return handleProtected(provider, req, res, pathname);
  }
  if (/^\/interaction\/[^/]+$/.test(pathname) && req.method === 'GET') {
    return handleInteraction(provider, req, res);
  }
  return callback(req, res);
}

// --------------------------------------------------------------------------
// Startup: listen first (PORT=0 picks a free port), then build the provider
// with the now-known issuer.

let handler = (_req, res) => send(res, 503, 'starting');

// With TLS_CERT_FILE and TLS_KEY_FILE (PEM), the server speaks HTTPS (issuer https://…), as
// an organisation's Keycloak behind its private CA; the test routes then also answer on a
// plain-HTTP admin port, for the harness's own calls.
const TLS_CERT_FILE = process.env.TLS_CERT_FILE;
const TLS_KEY_FILE = process.env.TLS_KEY_FILE;
const tls = Boolean(TLS_CERT_FILE && TLS_KEY_FILE);
let adminServer;

function serve(req, res) {
  const started = Date.now();
  res.on('finish', () => {
    const path = (req.url ?? '').split('?')[0];
    log(`${req.method} ${path} ${res.statusCode} ${Date.now() - started}ms`);
  });
  Promise.resolve(handler(req, res)).catch((err) => {
    log('handler error', err?.stack ?? err);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(err?.message ?? err) });
    else res.end();
  });
}
httpServer = tls
  ? createHttpsServer({ cert: readFileSync(TLS_CERT_FILE), key: readFileSync(TLS_KEY_FILE) }, serve)
  : createServer(serve);
httpServer.keepAliveTimeout = 5000;

httpServer.on('error', (err) => {
  log('listen error', err);
  process.exit(1);
});

let currentIssuer;

// Builds a provider with fresh signing keys and routes requests to it. Storage (grants,
// sessions, tokens) is module state of the adapter, so it survives a rebuild: rebuilding is
// how the test route below rotates the provider's keys.
function activate(issuer) {
  const keys = signingKeys();
  const provider = buildProvider(issuer, keys);
  provider.on('server_error', (_ctx, err) => log('server_error', err?.stack ?? err));
  // oidc-provider keeps the specific reason of most errors out of the
  // response (e.g. every invalid_grant says "grant request is invalid");
  // log it so a failing test's captured stderr explains itself.
  for (const event of [
    'grant.error', 'introspection.error', 'revocation.error', 'userinfo.error',
    'device_authorization.error', 'authorization.error', 'jwks.error', 'discovery.error',
  ]) {
    provider.on(event, (ctx, err) => log(
      `${event}: ${err?.error ?? err?.message} (${err?.error_description ?? ''})`
        + `${err?.error_detail ? ` detail: ${err.error_detail}` : ''}`
        + `${ctx?.oidc?.client ? ` client: ${ctx.oidc.client.clientId}` : ''}`,
    ));
  }
  const callback = provider.callback();
  handler = (req, res) => route(provider, callback, req, res);
  return keys.map((k) => k.kid);
}

async function handleRotateKeys(res) {
  const kids = activate(currentIssuer);
  log(`signing keys rotated: ${kids.join(', ')}`);
  return send(res, 200, { kids });
}

httpServer.listen(PORT, HOST, () => {
  const { port } = httpServer.address();
  currentIssuer = `${tls ? 'https' : 'http'}://${HOST}:${port}`;
  activate(currentIssuer);
  log(`oidc-provider issuer ${currentIssuer}, access token ttl ${ACCESS_TOKEN_TTL}s`);
  if (!tls) {
    process.stdout.write(`READY ${currentIssuer}\n`);
    return;
  }
  adminServer = createServer(serve);
  adminServer.listen(0, HOST, () => {
    const admin = `http://${HOST}:${adminServer.address().port}`;
    log(`test routes also on ${admin}`);
    process.stdout.write(`READY ${currentIssuer} ${admin}\n`);
  });
});

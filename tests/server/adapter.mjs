// Deterministic in-memory storage adapter for oidc-provider.
//
// oidc-provider's bundled MemoryAdapter is an LRU capped at ~1000 entries,
// which could silently evict grants or tokens during a long test run. This one
// is a plain Map with per-entry expiry, plus the secondary indexes the
// provider needs (session uid, device user code, grant membership).

const store = new Map(); // key `${model}:${id}` -> { payload, expiresAt }
const grantMembers = new Map(); // grantId -> Set(key)
const byUid = new Map(); // session uid -> session id
const byUserCode = new Map(); // user code -> device code id

let writes = 0;

function alive(entry) {
  return entry && (entry.expiresAt === undefined || entry.expiresAt > Date.now());
}

function sweep() {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) {
      removeKey(key);
    }
  }
}

function removeKey(key) {
  const entry = store.get(key);
  store.delete(key);
  if (!entry) return;
  const { payload } = entry;
  const id = key.slice(key.indexOf(':') + 1);
  if (payload.uid && byUid.get(payload.uid) === id) byUid.delete(payload.uid);
  if (payload.userCode && byUserCode.get(payload.userCode) === id) byUserCode.delete(payload.userCode);
  if (payload.grantId) {
    const members = grantMembers.get(payload.grantId);
    if (members) {
      members.delete(key);
      if (members.size === 0) grantMembers.delete(payload.grantId);
    }
  }
}

export default class TestAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    writes += 1;
    if (writes % 500 === 0) sweep();

    const key = this.key(id);
    if (store.has(key)) removeKey(key);

    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(key, { payload, expiresAt });

    if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
    if (payload.grantId) {
      if (!grantMembers.has(payload.grantId)) grantMembers.set(payload.grantId, new Set());
      grantMembers.get(payload.grantId).add(key);
    }
  }

  async find(id) {
    const key = this.key(id);
    const entry = store.get(key);
    if (!entry) return undefined;
    if (!alive(entry)) {
      removeKey(key);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    const id = byUid.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = byUserCode.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    removeKey(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const members = grantMembers.get(grantId);
    if (!members) return;
    const prefix = `${this.model}:`;
    for (const key of [...members]) {
      if (key.startsWith(prefix)) removeKey(key);
    }
  }
}

// Test helpers (not part of the oidc-provider adapter interface).

/** Every stored key of any model that references grantId. */
export function keysForGrant(grantId) {
  return [...(grantMembers.get(grantId) ?? [])];
}

/** Remove everything bound to grantId (tokens, codes) plus the Grant itself. */
export function purgeGrant(grantId) {
  for (const key of keysForGrant(grantId)) removeKey(key);
  removeKey(`Grant:${grantId}`);
}

/** Session ids whose authorizations reference grantId. */
export function sessionsForGrant(grantId) {
  const ids = [];
  for (const [key, entry] of store) {
    if (!key.startsWith('Session:') || !alive(entry)) continue;
    const auths = entry.payload.authorizations ?? {};
    if (Object.values(auths).some((a) => a && a.grantId === grantId)) {
      ids.push(key.slice('Session:'.length));
    }
  }
  return ids;
}

export function destroySession(id) {
  removeKey(`Session:${id}`);
}

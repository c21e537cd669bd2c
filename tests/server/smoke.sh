#!/usr/bin/env bash
# Smoke test for the test authorization server: starts it on a free port
# (PORT=0, ACCESS_TOKEN_TTL=3), exercises every interface the Rust harness
# relies on with curl, and stops it. Needs bash, curl and node; installs
# node_modules with `npm ci` if they are missing.
#
#   bash tests/server/smoke.sh
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

if [[ ! -d node_modules/oidc-provider ]]; then
  timeout 300 npm ci --no-audit --no-fund >&2 || { echo "npm ci failed" >&2; exit 1; }
fi

WORK="$(mktemp -d)"
LOG="$WORK/server.log"
PASS=0
FAIL=0
SERVER_PID=""

cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check "description" test-command...
  local desc="$1"; shift
  if "$@"; then ok "$desc"; else bad "$desc"; fi
}
# jq-free JSON field access: jf '<json>' 'path.to.field'  (prints "" if absent)
jf() {
  node -e '
    let v; try { v = JSON.parse(process.argv[1]); } catch { process.exit(0); }
    for (const k of process.argv[2].split(".")) { if (v == null) break; v = v[k]; }
    if (v !== undefined && v !== null) process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
  ' "$1" "$2"
}
C=(curl -sS -m 10)
# post_token <out-var-prefix> curl-args... ; sets ${prefix}_code and ${prefix}_body
post() {
  local prefix="$1"; shift
  local out
  out="$("${C[@]}" -w '\n%{http_code}' "$@")"
  printf -v "${prefix}_code" '%s' "${out##*$'\n'}"
  printf -v "${prefix}_body" '%s' "${out%$'\n'*}"
}

# ---------------------------------------------------------------- start
# coproc gives the server a stdin pipe (as the Rust harness does) and lets us
# read its stdout; closing our end of stdin makes it exit.
coproc SRV { PORT=0 ACCESS_TOKEN_TTL=3 exec node server.mjs 2>"$LOG"; }
SERVER_PID=$SRV_PID  # copy: bash unsets SRV_PID when the coprocess exits
SRV_OUT=${SRV[0]}
SRV_IN=${SRV[1]}
READY_LINE=""
if ! read -r -t 20 READY_LINE <&"$SRV_OUT"; then
  echo "server did not print READY within 20s" >&2; cat "$LOG" >&2; exit 1
fi
[[ "$READY_LINE" =~ ^READY\ (http://127\.0\.0\.1:[0-9]+)$ ]] || { echo "bad READY line: $READY_LINE" >&2; exit 1; }
ISS="${BASH_REMATCH[1]}"
echo "# server: $READY_LINE (pid $SERVER_PID)"

# ---------------------------------------------------------------- password grant
post pw -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin -d 'scope=openid profile email' "$ISS/token"
echo "# password grant: $pw_body"
check "password grant 200" [ "$pw_code" = 200 ]
AT="$(jf "$pw_body" access_token)"; RT="$(jf "$pw_body" refresh_token)"; SS="$(jf "$pw_body" session_state)"
check "has access_token"  [ -n "$AT" ]
check "has refresh_token" [ -n "$RT" ]
check "has session_state" [ -n "$SS" ]
check "has id_token"      [ -n "$(jf "$pw_body" id_token)" ]
check "expires_in 3"      [ "$(jf "$pw_body" expires_in)" = 3 ]
check "token_type Bearer" [ "$(jf "$pw_body" token_type)" = Bearer ]

post res -H "Authorization: Bearer $AT" "$ISS/resource"
check "GET /resource with bearer -> 200 ($res_body)" [ "$res_code" = 200 ]
check "/resource body names admin" [ "$(jf "$res_body" sub)" = admin ]
post res -X POST -H "Authorization: Bearer $AT" --data-binary 'hello=world' "$ISS/resource/deep/path"
check "POST /resource/deep/path echoes body" [ "$res_code" = 200 -a "$(jf "$res_body" body)" = 'hello=world' -a "$(jf "$res_body" path)" = /resource/deep/path ]
post cnt -H "Authorization: Bearer $AT" "$ISS/admin/realms/master/users/count"
check "GET users/count -> 200 body 1" [ "$cnt_code" = 200 -a "$cnt_body" = 1 ]
post ui -H "Authorization: Bearer $AT" "$ISS/me"
check "userinfo -> sub/name/email ($ui_body)" [ "$ui_code" = 200 -a "$(jf "$ui_body" email)" = admin@example.test -a "$(jf "$ui_body" name)" = 'Admin User' ]

post rf -d grant_type=refresh_token -d client_id=admin-cli -d "refresh_token=$RT" "$ISS/token"
echo "# refresh: $rf_body"
AT2="$(jf "$rf_body" access_token)"
check "refresh -> 200" [ "$rf_code" = 200 ]
check "refresh -> new access token" [ -n "$AT2" -a "$AT2" != "$AT" ]
check "refresh (non-rotating) -> same refresh token" [ "$(jf "$rf_body" refresh_token)" = "$RT" ]
check "refresh response has session_state = grant" [ "$(jf "$rf_body" session_state)" = "$SS" ]

post st "$ISS/test/stats"
echo "# stats: $st_body"
check "stats password 1"      [ "$(jf "$st_body" token.password)" = 1 ]
check "stats refresh_token 1" [ "$(jf "$st_body" token.refresh_token)" = 1 ]
check "stats resource ok 3"   [ "$(jf "$st_body" resource.ok)" = 3 ]

post wp -d grant_type=password -d client_id=admin-cli -d username=admin -d password=nope "$ISS/token"
echo "# wrong password: $wp_code $wp_body"
check "wrong password -> 400 invalid_grant 'Invalid user credentials'" \
  [ "$wp_code" = 400 -a "$(jf "$wp_body" error)" = invalid_grant -a "$(jf "$wp_body" error_description)" = 'Invalid user credentials' ]
post mu -d grant_type=password -d client_id=admin-cli -d password=admin "$ISS/token"
echo "# missing username: $mu_code $mu_body"
check "missing username -> 400 invalid_request" [ "$mu_code" = 400 -a "$(jf "$mu_body" error)" = invalid_request ]

# ---------------------------------------------------------------- client authentication
post cc -u basic-client:basic-secret -d grant_type=client_credentials "$ISS/token"
echo "# basic-client client_credentials: $cc_body"
check "basic-client client_credentials via Basic -> 200" [ "$cc_code" = 200 -a -n "$(jf "$cc_body" access_token)" ]
CC_AT="$(jf "$cc_body" access_token)"
post res -H "Authorization: Bearer $CC_AT" "$ISS/resource"
check "client_credentials token on /resource -> 200" [ "$res_code" = 200 -a "$(jf "$res_body" client_id)" = basic-client ]
post cc -d grant_type=client_credentials -d client_id=post-client -d client_secret=post-secret "$ISS/token"
check "post-client client_credentials via form -> 200" [ "$cc_code" = 200 -a -n "$(jf "$cc_body" access_token)" ]
post cc -u basic-client:wrong -d grant_type=client_credentials "$ISS/token"
echo "# bad secret: $cc_code $cc_body"
check "wrong client secret -> 401 invalid_client" [ "$cc_code" = 401 -a "$(jf "$cc_body" error)" = invalid_client ]
post cc -u cc-client:cc-secret -d grant_type=client_credentials "$ISS/token"
check "cc-client client_credentials -> 200" [ "$cc_code" = 200 ]
# RFC 6749 2.3.1: id and secret are form-urlencoded before Basic.
ODD_ENC="$(node -e 'const f=s=>encodeURIComponent(s).replace(/%20/g,"+");process.stdout.write(Buffer.from(f("odd-secret-client")+":"+f(process.argv[1])).toString("base64"))' 's3cr3t:with+special&chars/=')"
post od -H "Authorization: Basic $ODD_ENC" -d grant_type=password -d username=admin -d password=admin "$ISS/token"
check "odd-secret-client with form-urlencoded Basic -> 200" [ "$od_code" = 200 -a -n "$(jf "$od_body" access_token)" ]
ODD_RAW="$(printf '%s' 'odd-secret-client:s3cr3t:with+special&chars/=' | base64 -w0)"
post od2 -H "Authorization: Basic $ODD_RAW" -d grant_type=password -d username=admin -d password=admin "$ISS/token"
echo "# odd secret NOT form-encoded: $od2_code $od2_body"
check "odd-secret-client with raw (un-encoded) Basic -> 401" [ "$od2_code" = 401 ]

# client_secret_jwt (HS256) and private_key_jwt (RS256, key from private-key-client.jwk.json)
assertion() { # assertion <client_id> <HS256|RS256> <audience>
  node -e '
    const crypto = require("crypto");
    const [cid, alg, aud] = process.argv.slice(1);
    const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    let header = { alg, typ: "JWT" }, key;
    if (alg === "RS256") {
      const jwk = require("./private-key-client.jwk.json");
      header.kid = jwk.kid;
      key = crypto.createPrivateKey({ key: jwk, format: "jwk" });
    }
    const input = b64(header) + "." + b64({ iss: cid, sub: cid, aud, jti: crypto.randomUUID(), iat: now, exp: now + 60 });
    const sig = alg === "HS256"
      ? crypto.createHmac("sha256", "jwt-secret-client-secret-0123456789abcdef").update(input).digest("base64url")
      : crypto.sign("sha256", Buffer.from(input), key).toString("base64url");
    process.stdout.write(input + "." + sig);
  ' "$1" "$2" "$3"
}
JWT_TYPE=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
post cj -d grant_type=client_credentials -d client_id=jwt-secret-client -d "client_assertion_type=$JWT_TYPE" -d "client_assertion=$(assertion jwt-secret-client HS256 "$ISS/token")" "$ISS/token"
check "jwt-secret-client (client_secret_jwt, aud=token endpoint) -> 200" [ "$cj_code" = 200 -a -n "$(jf "$cj_body" access_token)" ]
post pk -d grant_type=password -d username=admin -d password=admin -d "client_assertion_type=$JWT_TYPE" -d "client_assertion=$(assertion private-key-client RS256 "$ISS")" "$ISS/token"
check "private-key-client (private_key_jwt, aud=issuer) -> 200" [ "$pk_code" = 200 -a -n "$(jf "$pk_body" refresh_token)" ]

# ---------------------------------------------------------------- introspection / revocation
post bp -u basic-client:basic-secret -d grant_type=password -d username=admin -d password=admin "$ISS/token"
B_AT="$(jf "$bp_body" access_token)"; B_RT="$(jf "$bp_body" refresh_token)"
post in -u basic-client:basic-secret -d "token=$B_AT" "$ISS/token/introspection"
echo "# introspection: $in_body"
check "introspection live token -> active true, scope/client_id/exp/sub" \
  [ "$(jf "$in_body" active)" = true -a "$(jf "$in_body" client_id)" = basic-client -a "$(jf "$in_body" sub)" = admin -a -n "$(jf "$in_body" exp)" -a -n "$(jf "$in_body" scope)" ]
post in -d client_id=admin-cli -d "token=$B_AT" "$ISS/token/introspection"
check "introspection by public admin-cli (other client's token) -> active true" [ "$(jf "$in_body" active)" = true ]
post rv -u basic-client:basic-secret -d "token=$B_AT" -d token_type_hint=access_token "$ISS/token/revocation"
check "revocation -> 200" [ "$rv_code" = 200 ]
post in -u basic-client:basic-secret -d "token=$B_AT" "$ISS/token/introspection"
check "introspection revoked token -> {\"active\":false}" [ "$in_body" = '{"active":false}' ]
post res -H "Authorization: Bearer $B_AT" "$ISS/resource"
check "revoked token on /resource -> 401" [ "$res_code" = 401 ]

# ---------------------------------------------------------------- session removal
post del -X DELETE "$ISS/admin/realms/master/sessions/$SS"
check "DELETE session -> 204" [ "$del_code" = 204 ]
post rf -d grant_type=refresh_token -d client_id=admin-cli -d "refresh_token=$RT" "$ISS/token"
echo "# refresh after session delete: $rf_code $rf_body"
check "refresh after DELETE -> 400 invalid_grant" [ "$rf_code" = 400 -a "$(jf "$rf_body" error)" = invalid_grant ]
post res -H "Authorization: Bearer $AT2" "$ISS/resource"
check "access token of deleted session -> 401" [ "$res_code" = 401 ]

# ---------------------------------------------------------------- rotation
post ro -d grant_type=password -d client_id=admin-cli-rotating -d username=admin -d password=admin "$ISS/token"
R_RT1="$(jf "$ro_body" refresh_token)"
post ro2 -d grant_type=refresh_token -d client_id=admin-cli-rotating -d "refresh_token=$R_RT1" "$ISS/token"
R_RT2="$(jf "$ro2_body" refresh_token)"
check "rotating refresh -> new refresh token" [ "$ro2_code" = 200 -a -n "$R_RT2" -a "$R_RT2" != "$R_RT1" ]
post ro3 -d grant_type=refresh_token -d client_id=admin-cli-rotating -d "refresh_token=$R_RT1" "$ISS/token"
echo "# reuse of rotated refresh token: $ro3_code $ro3_body"
check "reuse of old refresh token -> 400 invalid_grant" [ "$ro3_code" = 400 -a "$(jf "$ro3_body" error)" = invalid_grant ]

# ---------------------------------------------------------------- headless code flow
JAR="$WORK/cookies"
VERIFIER="$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64url"))')"
CHALLENGE="$(node -e 'process.stdout.write(require("crypto").createHash("sha256").update(process.argv[1]).digest("base64url"))' "$VERIFIER")"
STATE="st-$RANDOM"
REDIRECT="http://127.0.0.1:8976/callback" # any loopback port (RFC 8252)
URL="$ISS/auth?response_type=code&client_id=admin-cli&redirect_uri=$(node -e 'process.stdout.write(encodeURIComponent(process.argv[1]))' "$REDIRECT")&scope=openid%20profile&state=$STATE&code_challenge=$CHALLENGE&code_challenge_method=S256&login_hint=whoever"
HOPS=0
while :; do
  LOC="$("${C[@]}" -o /dev/null -c "$JAR" -b "$JAR" -w '%{http_code} %{redirect_url}' "$URL")"
  code="${LOC%% *}"; next="${LOC#* }"
  [[ "$code" =~ ^30[1237]$ ]] || { echo "# code flow stopped at $URL with $code"; break; }
  HOPS=$((HOPS + 1))
  echo "# redirect $HOPS: $code -> ${next%%\?*}"
  URL="$next"
  [[ "$URL" == "$REDIRECT"* ]] && break
  [[ $HOPS -ge 10 ]] && break
done
CODE="$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.searchParams.get("code")??"")' "$URL")"
GOT_STATE="$(node -e 'const u=new URL(process.argv[1]);process.stdout.write(u.searchParams.get("state")??"")' "$URL")"
check "code flow ends at redirect_uri with code after $HOPS redirects" [ -n "$CODE" -a "$GOT_STATE" = "$STATE" -a "$HOPS" = 3 ]
post cx -d grant_type=authorization_code -d client_id=admin-cli -d "code=$CODE" -d "redirect_uri=$REDIRECT" -d "code_verifier=$VERIFIER" "$ISS/token"
echo "# code exchange: $cx_body"
check "code exchange with PKCE -> tokens incl. refresh_token + session_state" \
  [ "$cx_code" = 200 -a -n "$(jf "$cx_body" access_token)" -a -n "$(jf "$cx_body" refresh_token)" -a -n "$(jf "$cx_body" session_state)" -a -n "$(jf "$cx_body" id_token)" ]
# second run with the same cookie jar: session + grant exist -> single redirect
LOC="$("${C[@]}" -o /dev/null -c "$JAR" -b "$JAR" -w '%{http_code} %{redirect_url}' "$ISS/auth?response_type=code&client_id=admin-cli&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback&scope=openid%20profile&state=s2&code_challenge=$CHALLENGE&code_challenge_method=S256")"
check "second code flow with same cookies -> 1 redirect straight to callback" [ "${LOC#* }" != "${LOC#* http://127.0.0.1/callback?code=}" ]

# ---------------------------------------------------------------- device flow
post da -d client_id=admin-cli -d 'scope=openid profile' "$ISS/device/auth"
echo "# device authorization: $da_body"
DC="$(jf "$da_body" device_code)"; UC="$(jf "$da_body" user_code)"
check "device authorization -> device_code + user_code" [ "$da_code" = 200 -a -n "$DC" -a -n "$UC" ]
post dp -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=admin-cli -d "device_code=$DC" "$ISS/token"
check "device poll before approval -> authorization_pending" [ "$dp_code" = 400 -a "$(jf "$dp_body" error)" = authorization_pending ]
post ap -d "user_code=$UC" "$ISS/test/device/approve"
check "POST /test/device/approve -> 200" [ "$ap_code" = 200 ]
post dp -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=admin-cli -d "device_code=$DC" "$ISS/token"
echo "# device token: $dp_body"
check "device poll after approval -> tokens" [ "$dp_code" = 200 -a -n "$(jf "$dp_body" access_token)" -a -n "$(jf "$dp_body" session_state)" ]
post da -d client_id=admin-cli "$ISS/device/auth"
DC="$(jf "$da_body" device_code)"; UC="$(jf "$da_body" user_code)"
post dn -H 'Content-Type: application/json' --data "{\"user_code\":\"$UC\"}" "$ISS/test/device/deny"
post dp -d grant_type=urn:ietf:params:oauth:grant-type:device_code -d client_id=admin-cli -d "device_code=$DC" "$ISS/token"
echo "# denied device poll: $dp_code $dp_body"
check "device deny (JSON body) -> access_denied" [ "$dn_code" = 200 -a "$dp_code" = 400 -a "$(jf "$dp_body" error)" = access_denied ]

# ---------------------------------------------------------------- expiry and 401s
post nt "$ISS/resource"
check "no token -> 401 WWW-Authenticate: Bearer" [ "$nt_code" = 401 ]
HDR="$("${C[@]}" -D - -o /dev/null "$ISS/resource" | tr -d '\r' | grep -i '^www-authenticate:')"
check "missing token header is exactly 'Bearer' ($HDR)" [ "$HDR" = 'WWW-Authenticate: Bearer' -o "$HDR" = 'www-authenticate: Bearer' ]
post ex -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin "$ISS/token"
EX_AT="$(jf "$ex_body" access_token)"; EXP_IN="$(jf "$ex_body" expires_in)"
post res -H "Authorization: Bearer $EX_AT" "$ISS/resource"
check "fresh token -> 200" [ "$res_code" = 200 ]
sleep $((EXP_IN + 1))
HDRS="$("${C[@]}" -D - -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $EX_AT" "$ISS/resource" | tr -d '\r')"
echo "# expired token response headers:"; echo "$HDRS" | sed 's/^/#   /'
check "expired token -> 401 with WWW-Authenticate: Bearer error=\"invalid_token\"" \
  bash -c '[[ "$1" == *"HTTP/1.1 401"* ]] && grep -qix "www-authenticate: Bearer error=\"invalid_token\"" <<<"$1"' _ "$HDRS"
post in -u basic-client:basic-secret -d "token=$EX_AT" "$ISS/token/introspection"
check "introspection of expired token -> {\"active\":false}" [ "$in_body" = '{"active":false}' ]

post st "$ISS/test/stats"
echo "# stats: $st_body"
post rs -X POST "$ISS/test/stats/reset"
post st "$ISS/test/stats"
check "stats reset" [ "$(jf "$st_body" token.password)" = 0 -a "$(jf "$st_body" resource.ok)" = 0 ]

# ---------------------------------------------------------------- shutdown on stdin EOF
eval "exec ${SRV_IN}>&-"
for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
check "server exits when its stdin closes" bash -c "! kill -0 $SERVER_PID 2>/dev/null"

if [[ $FAIL -gt 0 || -n "${SMOKE_VERBOSE:-}" ]]; then
  echo "# server log:"; sed 's/^/#   /' "$LOG"
else
  echo "# server log (last 5 lines; SMOKE_VERBOSE=1 for all):"; tail -n 5 "$LOG" | sed 's/^/#   /'
fi
# ---------------------------------------------------------------- shutdown on SIGTERM
TERMLOG="$WORK/term.log"
coproc SRV2 { PORT=0 exec node server.mjs 2>"$TERMLOG"; }
TERM_PID=$SRV2_PID
if read -r -t 20 _ <&"${SRV2[0]}"; then
  kill -TERM "$TERM_PID"
  for _ in $(seq 1 50); do kill -0 "$TERM_PID" 2>/dev/null || break; sleep 0.1; done
  check "server exits on SIGTERM" bash -c "! kill -0 $TERM_PID 2>/dev/null"
else
  bad "second server did not start"; kill -KILL "$TERM_PID" 2>/dev/null
fi

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]

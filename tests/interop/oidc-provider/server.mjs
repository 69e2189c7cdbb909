// The npm `oidc-provider` (a certified OpenID provider) as the identity provider of the
// interop tests (tests/interop_oidc_provider.rs): client credentials, DPoP, resource
// indicators for the orders API (audience `orders-api`), token introspection (RFC 7662) and
// revocation (RFC 7009).
//
// Clients (all client_secret_basic, secret `<client id>-secret`):
// - `orders-client` (scope `orders:read`): ES256 JWT access tokens, DPoP-bound when the
//   token request carries a proof;
// - `orders-opaque` (scopes `orders:read orders:write`): opaque access tokens, which only
//   introspection describes; it may revoke its own tokens;
// - `orders-introspector`: the orders API as a resource server. It obtains no tokens; it may
//   introspect access tokens whose audience is `orders-api` (and no others).
//
//   node server.mjs <port>     # prints "listening <issuer>" once it serves

import { generateKeyPairSync } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] ?? 4000);
const issuer = `http://127.0.0.1:${port}`;

// The orders API: its resource indicator (a URI), and the audience of its tokens (the
// example's default).
const ORDERS_RESOURCE = 'urn:portcullis:orders-api';
const ORDERS_AUDIENCE = 'orders-api';

// The resource servers that may introspect tokens, each with the audience it serves: an
// introspecting client sees the tokens issued for it, not every token of the provider.
const INTROSPECTORS = new Map([['orders-introspector', ORDERS_AUDIENCE]]);

// The clients whose access tokens are opaque; every other client gets JWTs.
const OPAQUE_CLIENTS = new Set(['orders-opaque']);

// Signing keys made at start-up: ES256 for the access tokens, RS256 as providers need.
const signing = (type, options, alg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid: alg.toLowerCase(),
});

const client = (clientId, scope) => ({
  client_id: clientId,
  client_secret: `${clientId}-secret`,
  grant_types: scope ? ['client_credentials'] : [],
  redirect_uris: [],
  response_types: [],
  ...(scope ? { scope } : {}),
  token_endpoint_auth_method: 'client_secret_basic',
});

const audiences = (token) => (Array.isArray(token.aud) ? token.aud : [token.aud]);

const provider = new Provider(issuer, {
  jwks: {
    keys: [
      signing('ec', { namedCurve: 'P-256' }, 'ES256'),
      signing('rsa', { modulusLength: 2048 }, 'RS256'),
    ],
  },
  clients: [
    client('orders-client', 'orders:read'),
    client('orders-opaque', 'orders:read orders:write'),
    client('orders-introspector'),
  ],
  scopes: ['orders:read', 'orders:write'],
  // Client credentials tokens live as long as their resource server says (5 minutes).
  ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 300 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    introspection: {
      enabled: true,
      // A client may introspect its own tokens; a resource server (INTROSPECTORS) the access
      // tokens issued for its audience. Anyone else gets `{"active":false}`.
      allowedPolicy: (ctx, caller, token) => {
        if (caller.clientAuthMethod === 'none') return false;
        if (token.clientId === caller.clientId) return true;
        const audience = INTROSPECTORS.get(caller.clientId);
        return (
          audience !== undefined
          && token.kind !== 'RefreshToken'
          && audiences(token).includes(audience)
        );
      },
    },
    revocation: {
      enabled: true,
      // A client may revoke its own tokens only.
      allowedPolicy: (ctx, caller, token) => {
        if (token.clientId === caller.clientId) return true;
        if (caller.clientAuthMethod === 'none') return false;
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => ORDERS_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource, requester) => {
        if (resource !== ORDERS_RESOURCE) throw new errors.InvalidTarget();
        const common = {
          scope: 'orders:read orders:write',
          audience: ORDERS_AUDIENCE,
          accessTokenTTL: 300,
        };
        return OPAQUE_CLIENTS.has(requester.clientId)
          ? { ...common, accessTokenFormat: 'opaque' }
          : { ...common, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } };
      },
    },
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

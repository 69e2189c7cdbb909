// The npm `oidc-provider` (a certified OpenID provider) as the identity provider of the
// DPoP interop test (tests/interop_oidc_provider.rs): client credentials, DPoP on, resource
// indicators issuing JWT access tokens for the orders API.
//
//   node server.mjs <port>     # prints "listening <issuer>" once it serves

import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 4000);
const issuer = `http://127.0.0.1:${port}`;

// Signing keys made at start-up: ES256 for the access tokens, RS256 as providers need.
const signing = (type, options, alg) => ({
  ...generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }),
  alg,
  use: 'sig',
  kid: alg.toLowerCase(),
});

const provider = new Provider(issuer, {
  jwks: {
    keys: [
      signing('ec', { namedCurve: 'P-256' }, 'ES256'),
      signing('rsa', { modulusLength: 2048 }, 'RS256'),
    ],
  },
  clients: [
    {
      client_id: 'orders-client',
      client_secret: 'orders-client-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'orders:read',
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['orders:read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The resource indicator (a URI); the tokens' audience is the example's default.
      defaultResource: () => 'urn:portcullis:orders-api',
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'orders:read',
        audience: 'orders-api',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 300,
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

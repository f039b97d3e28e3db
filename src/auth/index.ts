export {
  createTokenVerifier,
  audienceMatches,
  AuthFailure,
  ACCEPTED_ALGORITHMS,
  type TokenVerifier,
  type TokenVerifierOptions,
  type VerifiedClient,
} from './verify-token.js';
export { loadTrustedClients, checkTrustedClients, TrustedClientsError, type TrustedClient } from './trusted-clients.js';
export { createMemoryJtiStore, type JtiStore } from './replay.js';
export {
  ADMIN_ROLES,
  createAdminKeyring,
  hashAdminKey,
  parseAdminKeys,
  readAdminKeysFile,
  rolesForKey,
  type AdminKey,
  type AdminKeyring,
  type AdminRole,
} from './admin-keys.js';
export { createDatabaseJtiStore, JTI_TABLE } from './replay-db.js';

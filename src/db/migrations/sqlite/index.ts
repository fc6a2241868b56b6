import { Initial1764460800000 } from "./1764460800000-initial";
import { Sessions1764547100000 } from "./1764547100000-sessions";
import { Saml1764547200000 } from "./1764547200000-saml";
import { Oidc1764547300000 } from "./1764547300000-oidc";
import { Passwords1764547400000 } from "./1764547400000-passwords";

export const SQLITE_MIGRATIONS = [Initial1764460800000, Sessions1764547100000, Saml1764547200000, Oidc1764547300000, Passwords1764547400000];

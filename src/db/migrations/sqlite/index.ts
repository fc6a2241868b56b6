import { Initial1764460800000 } from "./1764460800000-initial";
import { Sessions1764547100000 } from "./1764547100000-sessions";
import { Saml1764547200000 } from "./1764547200000-saml";
import { Oidc1764547300000 } from "./1764547300000-oidc";
import { Passwords1764547400000 } from "./1764547400000-passwords";
import { AuditDetails1764547500000 } from "./1764547500000-audit-details";
import { Alerts1764547600000 } from "./1764547600000-alerts";
import { LogStreams1764547700000 } from "./1764547700000-log-streams";
import { Retention1764547800000 } from "./1764547800000-retention";
import { AuditReadIndexes1764547900000 } from "./1764547900000-audit-read-indexes";
import { ChangeVersions1764548000000 } from "./1764548000000-change-versions";

export const SQLITE_MIGRATIONS = [Initial1764460800000, Sessions1764547100000, Saml1764547200000, Oidc1764547300000, Passwords1764547400000,
  AuditDetails1764547500000,
  Alerts1764547600000,
  LogStreams1764547700000,
  Retention1764547800000,
  AuditReadIndexes1764547900000,
  ChangeVersions1764548000000,
];

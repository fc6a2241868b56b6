import { AuditEntryEntity, AuditStreamEntity } from "../audit/audit-entry.entity";
import { RoleMappingEntity } from "../mappings/role-mapping.entity";
import { OrganizationDomainEntity, OrganizationEntity } from "../organizations/organization.entity";
import { RoleEntity } from "../roles/role.entity";
import { ServiceAccountEntity } from "../service-accounts/service-account.entity";
import { PlatformKeyEntity } from "../tokens/platform-key.entity";
import { AuthorizationCodeEntity, RefreshTokenEntity, SessionEntity, SigningKeyEntity } from "../tokens/session.entity";
import { UserEntity } from "../users/user.entity";
import { OidcConnectionEntity } from "../sso/oidc/oidc-connection.entity";
import { OidcTransactionEntity } from "../sso/oidc/oidc-transaction.entity";
import { SamlConnectionEntity, SamlReplayEntity, SamlRequestEntity } from "../sso/saml/saml-connection.entity";
import { PasswordCredentialEntity } from "../sso/password/password-credential.entity";
import { LogStreamDeliveryEntity, LogStreamEntity } from "../audit/streams/log-stream.entity";
import { AuditCheckpointEntity, AuditCheckpointKeyEntity } from "../audit/retention/audit-checkpoint.entity";
import { AlertEntity, AlertRuleSettingEntity, ServiceKeyIpEntity } from "../audit/alerts/alert.entity";
import { AlertDeliveryEntity, AlertWebhookEntity } from "../audit/alerts/alert-webhook.entity";

export const ENTITIES = [
  RoleEntity,
  OrganizationEntity,
  OrganizationDomainEntity,
  RoleMappingEntity,
  ServiceAccountEntity,
  PlatformKeyEntity,
  AuditEntryEntity,
  AuditStreamEntity,
  UserEntity,
  SessionEntity,
  RefreshTokenEntity,
  AuthorizationCodeEntity,
  SigningKeyEntity,
  OidcConnectionEntity,
  OidcTransactionEntity,
  SamlConnectionEntity,
  SamlRequestEntity,
  SamlReplayEntity,
  PasswordCredentialEntity,
  LogStreamEntity,
  LogStreamDeliveryEntity,
  AuditCheckpointEntity,
  AuditCheckpointKeyEntity,
  AlertEntity,
  AlertRuleSettingEntity,
  ServiceKeyIpEntity,
  AlertWebhookEntity,
  AlertDeliveryEntity,
];

import { registerEnumType } from "type-graphql";

export const ActionEnum = { READ: "READ", WRITE: "WRITE", DELETE: "DELETE", ADMIN: "ADMIN" } as const;
registerEnumType(ActionEnum, { name: "Action", description: "What a principal may do: the columns of the role table." });

export const PrincipalKindEnum = { PLATFORM: "PLATFORM", USER: "USER", SERVICE: "SERVICE" } as const;
registerEnumType(PrincipalKindEnum, { name: "PrincipalKind" });

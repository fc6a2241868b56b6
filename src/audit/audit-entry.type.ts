import { IsOptional, MaxLength } from "class-validator";
import { Field, ID, InputType, Int, ObjectType } from "type-graphql";
import { PrincipalKindEnum } from "../shared/graphql-enums";
import { PageInfo } from "../shared/pagination";
import type { PrincipalKind } from "../shared/principal";

@ObjectType("AuditEntry")
export class AuditEntryType {
  @Field(() => ID)
  id!: string;

  @Field(() => Int, { description: "1, 2, 3, ... per organization (or per the platform stream), without gaps." })
  sequence!: number;

  @Field()
  timestamp!: Date;

  @Field(() => ID, { nullable: true })
  organizationId!: string | null;

  @Field()
  actorId!: string;

  @Field(() => PrincipalKindEnum, { nullable: true })
  actorKind!: PrincipalKind | null;

  @Field(() => String, { nullable: true })
  role!: string | null;

  @Field()
  action!: string;

  @Field()
  operation!: string;

  @Field()
  resource!: string;

  @Field()
  success!: boolean;

  @Field(() => String, { nullable: true })
  reason!: string | null;

  @Field(() => String, { nullable: true })
  ipAddress!: string | null;

  @Field(() => String, { nullable: true })
  userAgent!: string | null;

  @Field()
  requestId!: string;

  @Field(() => String, { nullable: true, description: "JSON: before/after of changed fields ({ changed: { field: [before, after] } }) or other context." })
  details!: string | null;
}

@ObjectType("AuditEntryEdge")
export class AuditEntryEdge {
  @Field()
  cursor!: string;

  @Field(() => AuditEntryType)
  node!: AuditEntryType;
}

@ObjectType("AuditEntryConnection")
export class AuditEntryConnection {
  @Field(() => [AuditEntryEdge])
  edges!: AuditEntryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

@InputType()
export class AuditEntryFilter {
  @Field(() => ID, { nullable: true })
  @IsOptional()
  @MaxLength(64)
  organizationId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(64)
  actorId?: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(64)
  action?: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(128)
  operation?: string;

  @Field({ nullable: true })
  @IsOptional()
  @MaxLength(512)
  resource?: string;

  @Field({ nullable: true })
  success?: boolean;

  @Field({ nullable: true, description: "Entries at or after this instant." })
  from?: Date;

  @Field({ nullable: true, description: "Entries before this instant." })
  to?: Date;
}

@ObjectType("AuditChainVerification", { description: "The result of walking an audit stream's hash chain." })
export class AuditChainVerificationType {
  @Field({ description: "Every entry is present, in order, unaltered, and the chain ends at the stream head." })
  ok!: boolean;

  @Field(() => Int)
  entriesChecked!: number;

  @Field(() => Int, { nullable: true, description: "The first sequence number that is missing, altered or out of place." })
  firstBrokenSequence!: number | null;

  @Field(() => Int, { nullable: true, description: "Entries up to this sequence were purged by retention; the walk started after its signed checkpoint (null: no purge, it started at 1)." })
  checkpointSequence!: number | null;
}

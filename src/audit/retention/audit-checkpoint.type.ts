import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType("AuditCheckpoint", {
  description: "A signed retention checkpoint: entries 1 … throughSequence of the stream were purged; the next entry chains on throughHash.",
})
export class AuditCheckpointType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { nullable: true, description: "The organization whose stream was purged (null: the platform stream)." })
  organizationId!: string | null;

  @Field(() => Int)
  throughSequence!: number;

  @Field({ description: "SHA-256 chain hash of the entry at throughSequence." })
  throughHash!: string;

  @Field(() => Int, { description: "Entries this purge removed." })
  entryCount!: number;

  @Field({ description: "Every removed entry was older than this instant." })
  olderThan!: Date;

  @Field()
  createdAt!: Date;

  @Field({ description: "The checkpoint key that signed it (HMAC-SHA256; the key is sealed with RBAC_ENCRYPTION_KEY)." })
  keyId!: string;

  @Field()
  signature!: string;

  @Field({ description: "The signature verifies now." })
  signatureValid!: boolean;
}

import { Field, ID, ObjectType } from "type-graphql";

@ObjectType("ServiceAccount", { description: "An API key acting for one organization with one role. The key itself is never readable." })
export class ServiceAccountType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field({ description: "The first characters of the key, to recognize it (e.g. in logs)." })
  keyPrefix!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  lastUsedAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;
  // organization and role are field resolvers (service-account.resolver.ts).
}

@ObjectType("CreatedServiceAccount")
export class CreatedServiceAccountType {
  @Field(() => ServiceAccountType)
  serviceAccount!: ServiceAccountType;

  @Field({ description: "Shown once: store it now, it cannot be read again." })
  apiKey!: string;
}

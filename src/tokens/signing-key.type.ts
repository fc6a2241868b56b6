import { Field, ObjectType } from "type-graphql";

@ObjectType("SigningKey", { description: "One of our token-signing keys (public information only)." })
export class SigningKeyType {
  @Field()
  kid!: string;

  @Field()
  algorithm!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: "When a newer key took over signing; it still verifies until retiredAt." })
  rotatedAt!: Date | null;

  @Field(() => Date, { nullable: true, description: "From then on, tokens signed with this key are refused." })
  retiredAt!: Date | null;

  @Field({ description: "Signs new tokens now." })
  active!: boolean;
}

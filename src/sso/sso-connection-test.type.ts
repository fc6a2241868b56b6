import { Field, ObjectType } from "type-graphql";

/** The answer of test*Connection: what an administrator must fix before people can log in. */
@ObjectType("SsoConnectionTest")
export class SsoConnectionTestType {
  @Field({ description: "True when nothing is wrong." })
  ok!: boolean;

  @Field(() => [String], { description: "Each problem found, as an actionable sentence; empty when ok." })
  problems!: string[];
}

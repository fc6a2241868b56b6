import { IsEmail, Length, MaxLength } from "class-validator";
import { Field, ID, InputType } from "type-graphql";
import { NoControlCharacters } from "../../shared/validation";

@InputType({ description: "A person who signs in with an email and a password (organizations that do not enforce SSO)." })
export class CreatePasswordUserInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "Their login; must be in one of the organization's allowed domains when it has any." })
  @MaxLength(320)
  @IsEmail({ allow_display_name: false, allow_ip_domain: false, require_tld: false })
  email!: string;

  @Field()
  @Length(1, 200)
  @NoControlCharacters()
  displayName!: string;

  @Field({ description: "A role for people (not `service`) that the caller may grant." })
  @MaxLength(64)
  roleKey!: string;

  @Field({ description: "12 to 256 characters, not containing the email's user name, not a common password. Never stored or returned in clear." })
  password!: string;
}

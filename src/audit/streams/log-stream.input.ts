import { IsOptional, Length, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { NoControlCharacters } from "../../shared/validation";

@InputType()
export class CreateLogStreamInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "The SIEM endpoint, e.g. https://siem.example.com/intake/rbac (https; http only to localhost outside production)." })
  @Length(1, 2048)
  @NoControlCharacters()
  url!: string;

  @Field(() => Int, { nullable: true, description: "Entries per request, 1–1000 (default 100)." })
  @IsOptional()
  @Min(1)
  @Max(1000)
  batchSize?: number | null;
}

@InputType({ description: "Absent fields stay unchanged. A new url, or enabling the stream, retries a failing batch at once." })
export class UpdateLogStreamInput {
  @Field({ nullable: true })
  @IsOptional()
  @Length(1, 2048)
  @NoControlCharacters()
  url?: string;

  @Field({ nullable: true })
  @IsOptional()
  enabled?: boolean;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(1)
  @Max(1000)
  batchSize?: number;
}

import { IsOptional, Length, Max, MaxLength, Min } from "class-validator";
import { Field, ID, InputType, Int } from "type-graphql";
import { NoControlCharacters } from "../../shared/validation";
import { THRESHOLD_BOUNDS, WINDOW_BOUNDS } from "./alert-rules";

@InputType({ description: "Omitted fields keep their value; threshold and windowSeconds apply to counting rules only." })
export class UpdateAlertRuleInput {
  @Field({ nullable: true })
  @IsOptional()
  enabled?: boolean;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(THRESHOLD_BOUNDS.min)
  @Max(THRESHOLD_BOUNDS.max)
  threshold?: number;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @Min(WINDOW_BOUNDS.min)
  @Max(WINDOW_BOUNDS.max)
  windowSeconds?: number;
}

@InputType()
export class CreateAlertWebhookInput {
  @Field(() => ID)
  @MaxLength(64)
  organizationId!: string;

  @Field({ description: "https (http only to localhost outside production)." })
  @Length(1, 2048)
  @NoControlCharacters()
  url!: string;
}

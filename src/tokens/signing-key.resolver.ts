import { Arg, Ctx, Mutation, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../shared/context";
import { NotFoundError } from "../shared/errors";
import { auditTarget } from "../shared/resolver-context";
import { SigningKeyType } from "./signing-key.type";
import type { SigningKeys } from "./signing-keys";

/** Operators' view of our token-signing keys (platform principals only, per the operation table). */
@Resolver(() => SigningKeyType)
export class SigningKeyResolver {
  constructor(private readonly keys: SigningKeys) {}

  @Query(() => [SigningKeyType], { description: "Our signing keys, newest first." })
  signingKeys(): Promise<SigningKeyType[]> {
    return this.keys.list();
  }

  @Mutation(() => SigningKeyType, { description: "A new key signs from now on; the previous one keeps verifying for the access-token lifetime." })
  async rotateSigningKey(@Ctx() ctx: RequestContext): Promise<SigningKeyType> {
    const kid = await this.keys.rotate(new Date(), undefined, ctx.em);
    auditTarget(ctx, null, `signingKey:${kid}`);
    return (await this.keys.list(ctx.em)).find((k) => k.kid === kid)!;
  }

  @Mutation(() => SigningKeyType, { description: "Refuses the key's tokens at once (compromise). Retiring the active key rotates first." })
  async retireSigningKey(@Arg("kid") kid: string, @Ctx() ctx: RequestContext): Promise<SigningKeyType> {
    await this.keys.retire(kid, new Date(), ctx.em);
    auditTarget(ctx, null, `signingKey:${kid}`);
    const key = (await this.keys.list(ctx.em)).find((k) => k.kid === kid);
    if (!key) throw new NotFoundError("Signing key", kid);
    return key;
  }
}

/**
 * `alertRaised`: alerts as they are raised, over graphql-ws (see alert-subscription.routes.ts).
 *
 * Rules:
 * - Authorized by the same decide() and operation-table row as every other field
 *   ("Subscription.alertRaised": READ, ORGANIZATION); graphql-shield applies it again to each event.
 * - An organization principal receives its own organization's alerts only; naming another
 *   organization answers NOT_FOUND. A platform principal receives every alert (platform alerts
 *   included), or one organization's when it names one.
 * - Before each event the connection's credential is checked again (at most every 5 s): a revoked
 *   key, an ended session or an expired access token ends the subscription.
 */
import { Arg, ID, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { decide } from "../../authz/decide";
import { operationRule } from "../../authz/operations";
import type { RequestContext } from "../../shared/context";
import { AppError, BadUserInputError, NotFoundError } from "../../shared/errors";
import type { Principal } from "../../shared/principal";
import { canSeeOrganization } from "../../shared/scope";
import { AlertEntity } from "./alert.entity";
import { toAlertType } from "./alert.service";
import { AlertType } from "./alert.type";

export const ALERT_SUBSCRIPTION = "Subscription.alertRaised";

/** What the WebSocket server adds to the context of a subscription. */
export interface AlertSubscriptionContext extends RequestContext {
  alertFeed?: (scope: AlertScope) => AsyncIterableIterator<AlertEntity>;
}

/** null organizationId: every alert (platform principals only). */
export interface AlertScope {
  organizationId: string | null;
}

/** The scope the principal may subscribe to, or the refusal (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND). */
export function authorizeAlertSubscription(principal: Principal | null, credentialError: AppError | null, organizationId: string | null): AlertScope | AppError {
  const verdict = decide(operationRule(ALERT_SUBSCRIPTION)!, principal, credentialError);
  if (verdict !== true) return verdict;
  const p = principal!;
  if (organizationId !== null && !canSeeOrganization(p, organizationId)) return new NotFoundError("Organization", organizationId);
  return { organizationId: p.kind === "PLATFORM" ? organizationId : p.organizationId };
}

export function inScope(scope: AlertScope, alert: AlertEntity): boolean {
  return scope.organizationId === null || alert.organizationId === scope.organizationId;
}

function subscribeToAlerts({ args, context }: SubscribeResolverData<unknown, { organizationId?: string | null }, AlertSubscriptionContext>): AsyncIterable<AlertEntity> {
  if (!context.alertFeed) throw notOverHttp();
  const scope = authorizeAlertSubscription(context.principal, context.credentialError, args.organizationId ?? null);
  if (scope instanceof AppError) throw scope;
  return context.alertFeed(scope);
}

const notOverHttp = () =>
  new BadUserInputError("operation", "alertRaised is a subscription: connect a graphql-ws client (protocol graphql-transport-ws) to ws(s)://<host>/graphql");

@Resolver()
export class AlertSubscriptionResolver {
  @Subscription(() => AlertType, {
    subscribe: subscribeToAlerts as never,
    description:
      "Alerts as they are raised (graphql-ws on /graphql; send connectionParams { authorization: \"Bearer <key or token>\" }). Organization principals get their own organization's; platform principals every alert, or one organization's.",
  })
  alertRaised(
    @Root() alert: AlertEntity,
    @Arg("organizationId", () => ID, { nullable: true }) _organizationId: string | null,
  ): AlertType {
    if (!(alert instanceof AlertEntity)) throw notOverHttp();
    return toAlertType(alert);
  }
}

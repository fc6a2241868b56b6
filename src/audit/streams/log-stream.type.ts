import { Field, ID, Int, ObjectType } from "type-graphql";
import { PageInfo } from "../../shared/pagination";

@ObjectType("LogStream", { description: "A SIEM endpoint receiving the organization's audit entries as signed batches. The signing secret is never readable." })
export class LogStreamType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  organizationId!: string;

  @Field({ description: "Where batches are POSTed (https; http only to localhost outside production)." })
  url!: string;

  @Field({ description: "A disabled stream sends nothing; enabling it resumes after lastAcknowledgedSequence." })
  enabled!: boolean;

  @Field(() => Int, { description: "At most this many entries per request (1–1000)." })
  batchSize!: number;

  @Field(() => Int, { description: "Every entry of the organization up to this sequence was acknowledged (2xx) by the endpoint." })
  lastAcknowledgedSequence!: number;

  @Field(() => Date, { nullable: true, description: "When the endpoint last acknowledged a batch." })
  lastDeliveryAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Why the last attempt failed; null once a batch is acknowledged." })
  lastError!: string | null;

  @Field(() => Int, { description: "Consecutive failed attempts of the waiting batch (0 when healthy)." })
  failedAttempts!: number;

  @Field(() => Date, { nullable: true, description: "While failing: when the next retry is due (exponential backoff)." })
  nextAttemptAt!: Date | null;

  @Field(() => Int, { description: "Entries of the organization beyond lastAcknowledgedSequence (not yet acknowledged)." })
  pending!: number;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
}

@ObjectType("LogStreamWithSecret")
export class LogStreamWithSecretType {
  @Field(() => LogStreamType)
  logStream!: LogStreamType;

  @Field({ description: "The HMAC-SHA256 signing secret. Shown once: store it in the receiver now, it cannot be read again." })
  secret!: string;
}

@ObjectType("LogStreamDelivery", { description: "One attempt to deliver one batch (the delivery log, newest first)." })
export class LogStreamDeliveryType {
  @Field(() => ID)
  id!: string;

  @Field({ description: "The X-RBAC-Delivery header: `<stream id>:<first sequence>-<last sequence>`, the same for every retry of the batch." })
  deliveryId!: string;

  @Field(() => Int, { description: "1 for the first attempt of the batch, 2 for its first retry, ..." })
  attempt!: number;

  @Field({ description: "The endpoint acknowledged the batch (2xx)." })
  ok!: boolean;

  @Field(() => Int, { nullable: true, description: "HTTP status of the answer; null when none came." })
  status!: number | null;

  @Field(() => Int)
  firstSequence!: number;

  @Field(() => Int)
  lastSequence!: number;

  @Field(() => Int)
  entryCount!: number;

  @Field(() => String, { nullable: true })
  error!: string | null;

  @Field(() => Int)
  durationMs!: number;

  @Field()
  createdAt!: Date;
}

@ObjectType("LogStreamDeliveryEdge")
export class LogStreamDeliveryEdge {
  @Field()
  cursor!: string;

  @Field(() => LogStreamDeliveryType)
  node!: LogStreamDeliveryType;
}

@ObjectType("LogStreamDeliveryConnection")
export class LogStreamDeliveryConnection {
  @Field(() => [LogStreamDeliveryEdge])
  edges!: LogStreamDeliveryEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;
}

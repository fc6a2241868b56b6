/**
 * The in-process alert feed behind `alertRaised`: filtering, a bounded buffer per subscriber,
 * ending a subscription (also while it waits), and the per-event credential check.
 */
import pino from "pino";
import { AlertEvents } from "../../src/audit/alerts/alert-events";
import { AlertEntity } from "../../src/audit/alerts/alert.entity";
import { UnauthenticatedError } from "../../src/shared/errors";

const logger = pino({ level: "silent" });
let n = 0;

function alert(organizationId: string | null): AlertEntity {
  n += 1;
  return Object.assign(new AlertEntity(), { id: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`, organizationId, createdAt: new Date() });
}

function feed(): AlertEvents {
  return new AlertEvents(() => {
    throw new Error("no database in this test");
  }, logger);
}

describe("alert feed", () => {
  test("a subscriber gets only what its filter accepts, in order", async () => {
    const events = feed();
    const sub = events.subscribe({ accepts: (a) => a.organizationId === "A" });
    const [a1, b1, a2] = [alert("A"), alert("B"), alert("A")];
    for (const a of [a1, b1, a2]) events.publish(a);
    expect((await sub.next()).value).toBe(a1);
    expect((await sub.next()).value).toBe(a2);
    await sub.return!();
    expect(events.subscriberCount).toBe(0);
  });

  test("an alert is published once, however often it is offered (local raise and poll)", async () => {
    const events = feed();
    const sub = events.subscribe({ accepts: () => true });
    const a = alert("A");
    events.publish(a);
    events.publish(a);
    events.publish(alert("A"));
    expect((await sub.next()).value).toBe(a);
    expect((await sub.next()).value).not.toBe(a);
  });

  test("a subscriber that does not read keeps the newest 100 alerts", async () => {
    const events = feed();
    const sub = events.subscribe({ accepts: () => true });
    const sent = Array.from({ length: 150 }, () => alert("A"));
    for (const a of sent) events.publish(a);
    expect((await sub.next()).value).toBe(sent[50]);
  });

  test("return() ends a subscription that waits for its next alert", async () => {
    const events = feed();
    const sub = events.subscribe({ accepts: () => true });
    const waiting = sub.next();
    await sub.return!();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    expect(events.subscriberCount).toBe(0);
  });

  test("a failed credential check ends the subscription with its error", async () => {
    const events = feed();
    let valid = true;
    const sub = events.subscribe({
      accepts: () => true,
      check: async () => {
        if (!valid) throw new UnauthenticatedError("revoked");
      },
    });
    const first = alert("A");
    events.publish(first);
    expect((await sub.next()).value).toBe(first);
    valid = false;
    const next = sub.next();
    events.publish(alert("A"));
    await expect(next).rejects.toThrow("revoked");
    expect(events.subscriberCount).toBe(0);
    expect(await sub.next()).toEqual({ done: true, value: undefined });
  });

  test("stop() ends every subscription", async () => {
    const events = feed();
    const sub = events.subscribe({ accepts: () => true });
    const waiting = sub.next();
    events.stop();
    await expect(waiting).resolves.toEqual({ done: true, value: undefined });
    expect(await events.subscribe({ accepts: () => true }).next()).toEqual({ done: true, value: undefined });
  });
});

/**
 * The password policy and the password hash.
 *
 * Rules:
 * - Passwords are compared and hashed in Unicode NFKC form, counted in code points.
 * - At least 12 and at most 256 characters; not containing the local part of the account's email
 *   (when it is 3 characters or longer), case-insensitively; not one of the most common passwords
 *   (built-in list below, case-insensitively); not one character repeated.
 * - Hashes are argon2id (OWASP parameters: 19 MiB, 2 passes, 1 lane) in PHC format; a hash made with
 *   weaker parameters is upgraded at the next successful login.
 * - A violation is a BAD_USER_INPUT on the field "password" whose message never contains the password.
 *   The password itself is never logged, audited, returned or stored in clear.
 */
import { randomBytes } from "node:crypto";
import * as argon2 from "argon2";
import { BadUserInputError } from "../../shared/errors";

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
/** Longest input the login route will hash at all (anything longer cannot be a valid password). */
export const PASSWORD_INPUT_MAX_LENGTH = 1024;

export const ARGON2_OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Common passwords long enough to pass the length rule (from public breach top lists). */
const COMMON_PASSWORDS = new Set([
  "123456789012", "1234567890123", "12345678901234", "123456789012345", "1234567890qwerty", "123456123456",
  "123123123123", "111111111111", "000000000000", "121212121212", "987654321098", "1234567891011",
  "qwertyuiop12", "qwertyuiop123", "qwertyuiopasdf", "qwertyuiopasdfgh", "qwertyuiopasdfghjkl", "qwerty123456",
  "qwerty1234567", "qwerty123456789", "qwertyqwerty", "1q2w3e4r5t6y", "1q2w3e4r5t6y7u", "1qaz2wsx3edc",
  "1qaz2wsx3edc4rfv", "zaq12wsxcde3", "zaq1zaq1zaq1", "asdfghjkl123", "asdfghjklqwerty", "zxcvbnm123456",
  "abcdefghijkl", "abcdefghijklm", "abcd12345678", "abc123456789", "abcabcabcabc", "aaaaaa111111",
  "password1234", "password12345", "password123456", "password123!", "password1234!", "passwordpassword",
  "password12345678", "p@ssw0rd1234", "p@ssword1234", "passw0rd1234", "mypassword123", "mypassword1234",
  "changeme1234", "changeme123!", "letmein12345", "letmeinletmein", "welcome12345", "welcome123456",
  "welcome1234!", "administrator", "administrator1", "admin1234567", "admin12345678", "adminadmin123",
  "iloveyou1234", "iloveyou12345", "iloveyouiloveyou", "trustno1trustno1", "football1234", "baseball1234",
  "basketball12", "superman1234", "batman123456", "princess1234", "sunshine1234", "starwars1234",
  "monkey123456", "dragon123456", "shadow123456", "master123456", "michael12345", "jennifer1234",
  "liverpool123", "chelsea12345", "computer1234", "internet1234", "whatever1234", "secret123456",
  "correcthorsebatterystaple", "thequickbrownfox", "spring2024!!", "summer2024!!", "winter2024!!",
  "autumn2024!!", "intercom1234", "intercom12345", "company12345", "qazwsxedcrfv", "qazwsxedc123",
  "1234qwerasdf", "1234qwerasdfzxcv", "q1w2e3r4t5y6", "a1b2c3d4e5f6", "googlegoogle", "facebook1234",
]);

export function normalizePassword(password: string): string {
  return password.normalize("NFKC");
}

/** Throws BAD_USER_INPUT (field "password") naming the rule broken. */
export function assertPasswordAllowed(password: string, email: string | null): void {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < PASSWORD_MIN_LENGTH) throw violation(`The password must be at least ${PASSWORD_MIN_LENGTH} characters long`);
  if (length > PASSWORD_MAX_LENGTH) throw violation(`The password must be at most ${PASSWORD_MAX_LENGTH} characters long`);
  const lower = normalized.toLowerCase();
  const localPart = email?.split("@")[0]?.normalize("NFKC").toLowerCase() ?? "";
  if (localPart.length >= 3 && lower.includes(localPart)) throw violation("The password must not contain the user name of the email address");
  if (COMMON_PASSWORDS.has(lower)) throw violation("The password is one of the most commonly used passwords; choose another");
  if (new Set(normalized).size === 1) throw violation("The password must not be one character repeated");
}

export function hashPassword(password: string): Promise<string> {
  return argon2.hash(normalizePassword(password), ARGON2_OPTIONS);
}

/** False for a wrong password and for a malformed hash alike. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, normalizePassword(password));
  } catch {
    return false;
  }
}

export function needsRehash(hash: string): boolean {
  try {
    return argon2.needsRehash(hash, ARGON2_OPTIONS);
  } catch {
    return true;
  }
}

/** A hash of a random password, so an unknown account costs one verification like a known one. */
export function createDummyHash(): Promise<string> {
  return argon2.hash(randomBytes(32).toString("base64url"), ARGON2_OPTIONS);
}

function violation(message: string): BadUserInputError {
  return new BadUserInputError("password", message);
}

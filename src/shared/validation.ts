/** Shared input formats (class-validator), so every input states the same rule the same way. */
import { Matches } from "class-validator";

// eslint-disable-next-line no-control-regex
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f]*$/;

export const NoControlCharacters = () =>
  Matches(NO_CONTROL_CHARACTERS, { message: "$property must not contain control characters" });

export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

import { Initial1764460800000 } from "./1764460800000-initial";

export const POSTGRES_MIGRATIONS = [Initial1764460800000];

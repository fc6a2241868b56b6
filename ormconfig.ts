/**
 * The DataSource used by the TypeORM CLI (`npm run migration:run`, `npm run migration:show`).
 * The service builds its own from the same factory and the same DATABASE_URL.
 */
import "reflect-metadata";
import { createDataSource } from "./src/db/data-source";

export default createDataSource(process.env.DATABASE_URL ?? "sqlite:./data/rbac.sqlite");

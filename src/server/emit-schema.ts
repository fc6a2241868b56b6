/** `npm run schema:emit`: writes schema/schema.graphql (committed; a test fails on drift). */
import "reflect-metadata";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { printSchemaFile } from "./print-schema";

const target = resolve(__dirname, "../../../schema/schema.graphql");
printSchemaFile().then((sdl) => {
  writeFileSync(target, sdl);
  process.stdout.write(`wrote ${target}\n`);
});

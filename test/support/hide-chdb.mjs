// Loaded with `node --import`: makes the chdb package unresolvable, as in the replica image
// that leaves it out, so tests can check what a server without it says.
import { register } from "node:module";

register(
  `data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      if (specifier === "chdb" || specifier.startsWith("chdb/")) {
        const error = new Error("Cannot find package 'chdb' (hidden by test/support/hide-chdb.mjs)");
        error.code = "ERR_MODULE_NOT_FOUND";
        throw error;
      }
      return next(specifier, context);
    }
  `)}`,
);

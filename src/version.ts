import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** The Sluice version from package.json, found from src/ (tsx, tests) and from dist/src/ (built). */
export const VERSION: string = (() => {
  for (const candidate of ["../package.json", "../../package.json"]) {
    try {
      const pkg = require(candidate) as { name?: string; version?: string };
      if (pkg.name === "sluice" && pkg.version) return pkg.version;
    } catch {
      // not at this depth
    }
  }
  return "0.0.0-unknown";
})();

// Adds the lockfile entries npm leaves out when the registry it installed from does not carry
// some platform-specific optional packages (this workplace's mirror lacks e.g. the win32 and
// darwin builds of biome, buf and chdb). Without those entries `npm ci` refuses the lockfile as
// out of sync; with them it skips the packages as optional, as it would on a foreign platform.
// Run after `npm install` changes package-lock.json: `node .ci/complete-lockfile.mjs`. Each added
// entry gets the os, cpu and libc its name declares (`-darwin-arm64`, `-linux-x64-musl`, ...), so
// npm ci skips it on any other platform.
import { readFileSync, writeFileSync } from "node:fs";

const path = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(path, "utf8"));
const packages = lock.packages;
let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${location ? `${location}/` : ""}node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    // Without os/cpu npm ci would try to install the package on every platform (and leave
    // megabytes of foreign binaries behind where the registry has it): say whose it is.
    packages[`node_modules/${name}`] = { version, optional: true, ...(entry.dev ? { dev: true } : {}), ...platformOf(name) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} missing optional package entries`);

/** The os/cpu/libc fields of a platform package, read from its name (as every platform package names itself). */
function platformOf(name) {
  const parts = name.split("/").pop().split("-");
  const os = parts.find((part) =>
    ["darwin", "linux", "win32", "android", "freebsd", "openbsd", "netbsd", "sunos", "aix", "openharmony"].includes(part),
  );
  const cpuAliases = {
    x64: "x64",
    arm64: "arm64",
    aarch64: "arm64",
    arm: "arm",
    armv7: "arm",
    ia32: "ia32",
    ppc64: "ppc64",
    s390x: "s390x",
    riscv64: "riscv64",
    loong64: "loong64",
    mips64el: "mips64el",
  };
  const cpu = parts.map((part) => cpuAliases[part]).find(Boolean);
  const libc = parts.includes("musl") ? "musl" : os === "linux" && parts.includes("gnu") ? "glibc" : undefined;
  if (!os && !cpu) console.warn(`complete-lockfile: ${name} names no platform; npm ci will try to install it everywhere`);
  return { ...(cpu ? { cpu: [cpu] } : {}), ...(libc ? { libc: [libc] } : {}), ...(os ? { os: [os] } : {}) };
}

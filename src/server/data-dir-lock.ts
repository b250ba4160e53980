import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

/** Data dirs locked by servers of this process (a pid alone cannot tell them from a dead predecessor). */
const heldHere = new Set<string>();

/**
 * Takes the data dir for this server. Two servers on one embedded data dir would each cache
 * definitions that the other changes, so a second server is refused while the first is alive. A
 * lock left by a process that died (kill -9) is taken over, even when a restarted process got the
 * same pid (pid 1 in containers). Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const directory = resolve(dataDir);
  mkdirSync(directory, { recursive: true });
  const path = join(directory, "sluice.lock");
  if (heldHere.has(directory)) throw inUse(dataDir, process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(directory);
      return () => {
        heldHere.delete(directory);
        rmSync(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(path);
    if (holder !== undefined && holder !== process.pid && isAlive(holder)) throw inUse(dataDir, holder);
    // Stale: move it aside atomically. Of two racing servers only one rename succeeds; the other
    // retries, finds the winner's fresh lock, and is refused.
    try {
      renameSync(path, `${path}.stale-${process.pid}-${attempt}`);
      rmSync(`${path}.stale-${process.pid}-${attempt}`, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  throw new Error(`cannot lock data dir ${dataDir}: another server keeps taking it`);
}

function readHolder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function inUse(dataDir: string, pid: number): Error {
  return new Error(`data dir ${dataDir} is in use by another Sluice server (pid ${pid}); give each server its own --data-dir`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
